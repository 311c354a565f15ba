import {
  hostRanges,
  type Ipv4Range,
  METADATA_CIDR,
  overlaps,
  type PlatformConfig,
  parseCidr,
} from '@breakfix/manifests';
import type { ClusterModel } from './model.js';
import { labOf } from './model.js';

/** One allowed-connection rule as the analyzer reports it (its JSON `explanation.rules`). */
export interface AnalyzerRule {
  src_ns?: string[];
  src_pods?: string[];
  src_ip_block?: string[];
  dst_ns?: string[];
  dst_pods?: string[];
  dst_ip_block?: string[];
  /** `"All connections"`, or what is allowed: `{ protocols: 'TCP, UDP', dst_ports: [53] }`. */
  connection: (string | { protocols?: string; dst_ports?: (number | string)[] })[];
}

interface Allowed {
  /** Any protocol, any port. */
  all: boolean;
  protocols: Set<string>;
  /** Empty: every port of the listed protocols. */
  ports: string[];
  text: string;
}

function allowedOf(rule: AnalyzerRule): Allowed {
  const allowed: Allowed = { all: false, protocols: new Set(), ports: [], text: '' };
  const parts: string[] = [];
  for (const entry of rule.connection) {
    if (typeof entry === 'string') {
      if (/all connections/i.test(entry)) allowed.all = true;
      parts.push(entry);
      continue;
    }
    for (const protocol of (entry.protocols ?? '').split(','))
      if (protocol.trim() !== '') allowed.protocols.add(protocol.trim());
    allowed.ports.push(...(entry.dst_ports ?? []).map(String));
    parts.push(`${entry.protocols ?? 'any'}:${(entry.dst_ports ?? ['any']).join(',')}`);
  }
  allowed.text = parts.join(' ');
  return allowed;
}

type Endpoint = { kind: 'pod'; namespace: string; name: string } | { kind: 'ip'; cidrs: string[] };

export interface IsolationReport {
  /** Allowed connections from one lab to another, as `ns/pod -> ns/pod (ports)`. */
  crossLab: string[];
  /** Every other broken promise, in words. */
  violations: string[];
  /** Promises checked and kept. */
  kept: string[];
}

const PUBLIC_PROBE = parseCidr('8.8.8.8/32', 'probe');

/**
 * Checks an analyzer's connectivity map against breakfix's isolation promises: no lab reaches
 * another lab, the platform, the host's pods, services, nodes, API server or the metadata address;
 * each lab has DNS; internet egress only where the lab asked; from outside the cluster only SSH
 * (and the nested API if configured) into the control plane; from the platform namespace SSH into
 * every node (and the nested API into the control plane).
 */
export function analyze(
  rules: readonly AnalyzerRule[],
  model: ClusterModel,
  platform: PlatformConfig,
): IsolationReport {
  const report: IsolationReport = { crossLab: [], violations: [], kept: [] };
  const clusterRanges = hostRanges(platform);
  const forbiddenRanges = [
    ...clusterRanges,
    { name: 'the metadata address', range: parseCidr(METADATA_CIDR, 'metadata') },
  ];
  const accessPorts = platform.exposeNestedApiServer ? ['22', '6443'] : ['22'];
  const dnsSeen = new Set<string>();
  const internetSeen = new Set<string>();
  const sshFromOutside = new Set<string>();
  /** `namespace/pod` of every lab node the platform reaches on 22. */
  const sshFromPlatform = new Set<string>();

  const expand = (ns: string[] | undefined, pods: string[] | undefined, ips: string[] | undefined): Endpoint[] => {
    if (ips !== undefined) return [{ kind: 'ip', cidrs: ips }];
    return (ns ?? []).flatMap((namespace) =>
      model.pods
        .filter((p) => p.metadata.namespace === namespace)
        .filter((p) => pods === undefined || pods.includes('*') || pods.includes(p.metadata.name))
        .map((p) => ({ kind: 'pod' as const, namespace, name: p.metadata.name })),
    );
  };
  const name = (e: Endpoint) => (e.kind === 'pod' ? `${e.namespace}/${e.name}` : e.cidrs.join(','));
  const podRole = (e: Endpoint & { kind: 'pod' }) =>
    model.pods.find((p) => p.metadata.namespace === e.namespace && p.metadata.name === e.name)?.metadata.labels?.[
      'breakfix.dev/role'
    ];

  for (const rule of rules) {
    const allowed = allowedOf(rule);
    const connection = allowed.text;
    const onlyPorts = (ports: string[]) =>
      !allowed.all && allowed.ports.length > 0 && allowed.ports.every((p) => ports.includes(p));
    const sources = expand(rule.src_ns, rule.src_pods, rule.src_ip_block);
    const destinations = expand(rule.dst_ns, rule.dst_pods, rule.dst_ip_block);
    for (const src of sources) {
      for (const dst of destinations) {
        const srcLab = src.kind === 'pod' ? labOf(model, src.namespace) : undefined;
        const dstLab = dst.kind === 'pod' ? labOf(model, dst.namespace) : undefined;
        const edge = `${name(src)} -> ${name(dst)} (${connection})`;

        if (srcLab !== undefined && dstLab !== undefined && srcLab !== dstLab) report.crossLab.push(edge);

        if (srcLab !== undefined && dst.kind === 'pod' && dstLab === undefined) {
          const isDns = dst.namespace === platform.dns.namespace && matches(model, dst, platform.dns.podLabels);
          if (isDns && onlyPorts(['53'])) dnsSeen.add(srcLab);
          else report.violations.push(`lab ${srcLab} reaches host workload: ${edge}`);
        }

        if (srcLab !== undefined && dst.kind === 'ip') {
          const model_ = model.labs.get(srcLab);
          for (const cidr of dst.cidrs) {
            const range = toRange(cidr);
            const clash = forbiddenRanges.find((f) => overlaps(f.range, range));
            if (clash !== undefined)
              report.violations.push(`lab ${srcLab} reaches ${clash.name} ${clash.range.cidr}: ${edge}`);
            if (overlaps(range, PUBLIC_PROBE)) internetSeen.add(srcLab);
          }
          if (model_?.egress === 'none')
            report.violations.push(`lab ${srcLab} has egress "none" but reaches addresses: ${edge}`);
        }

        if (dstLab !== undefined && srcLab !== dstLab && dst.kind === 'pod') {
          const role = podRole(dst);
          const tcpOnly = [...allowed.protocols].every((p) => p === 'TCP');
          if (src.kind === 'ip') {
            // Learners: only the control plane, only its access ports, never from inside the cluster.
            if (role !== 'control-plane' || !onlyPorts(accessPorts) || !tcpOnly) {
              report.violations.push(`lab ${dstLab} accepts more than SSH into its control plane: ${edge}`);
              continue;
            }
            const clash = src.cidrs
              .map(toRange)
              .flatMap((range) => clusterRanges.filter((f) => overlaps(f.range, range)));
            if (clash.length > 0)
              report.violations.push(
                `lab ${dstLab} accepts SSH from inside the cluster (${clash[0]?.range.cidr}): ${edge}`,
              );
            else sshFromOutside.add(dstLab);
          } else if (src.namespace === platform.platformNamespace) {
            // The platform: SSH into every node (the nested API too into the control plane, if open).
            const ports = role === 'control-plane' ? accessPorts : ['22'];
            if (!onlyPorts(ports) || !tcpOnly)
              report.violations.push(`lab ${dstLab} accepts more than SSH from ${platform.platformNamespace}: ${edge}`);
            else if (allowed.ports.includes('22')) sshFromPlatform.add(`${dst.namespace}/${dst.name}`);
          } else if (srcLab === undefined) {
            report.violations.push(`lab ${dstLab} accepts connections from host workload ${name(src)}: ${edge}`);
          }
        }
      }
    }
  }

  for (const [labId, lab] of model.labs) {
    if (!dnsSeen.has(labId))
      report.violations.push(`lab ${labId} cannot reach DNS (${platform.dns.namespace}, port 53)`);
    if (lab.egress === 'internet' && !internetSeen.has(labId))
      report.violations.push(`lab ${labId} asked for internet egress but cannot reach 8.8.8.8`);
    if (!sshFromOutside.has(labId))
      report.violations.push(`lab ${labId}: SSH into the control plane is not open from outside the cluster`);
    const nodes = model.pods.filter((p) => p.metadata.namespace === lab.namespace);
    for (const node of nodes) {
      if (!sshFromPlatform.has(`${lab.namespace}/${node.metadata.name}`))
        report.violations.push(
          `lab ${labId}: SSH into ${node.metadata.name} is not open from ${platform.platformNamespace}`,
        );
    }
  }
  if (report.violations.length === 0) {
    report.kept.push(
      `${model.labs.size} labs: DNS only to ${platform.dns.namespace} on 53`,
      'internet egress only where asked, never to host ranges or the metadata address',
      'from outside the cluster, SSH into each control plane only',
      `from ${platform.platformNamespace}, SSH into every node of every lab`,
    );
  }
  return report;
}

/** The analyzer prints blocks as CIDRs or as `a.b.c.d-e.f.g.h` ranges. */
function toRange(block: string): Ipv4Range {
  if (block.includes('/')) return parseCidr(block, 'analyzer output');
  const [first = '', last = first] = block.split('-');
  const start = parseCidr(`${first}/32`, 'analyzer output');
  const end = parseCidr(`${last}/32`, 'analyzer output');
  return { cidr: block, first: start.first, last: end.last };
}

function matches(
  model: ClusterModel,
  endpoint: { namespace: string; name: string },
  labels: Record<string, string>,
): boolean {
  const pod = model.pods.find((p) => p.metadata.namespace === endpoint.namespace && p.metadata.name === endpoint.name);
  return Object.entries(labels).every(([key, value]) => pod?.metadata.labels?.[key] === value);
}
