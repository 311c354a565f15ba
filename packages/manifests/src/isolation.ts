import type { KubeObject } from '@breakfix/kube';
import { LABELS, type LabAddon } from './render.js';
import { hostRanges, type PlatformConfig } from './spec.js';

/** The cloud metadata address: reachable from any pod on most clouds unless a policy says no. */
export const METADATA_CIDR = '169.254.169.254/32';
export const SSH_SERVICE_NAME = 'ssh';

const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/**
 * A lab's NetworkPolicies (https://kubernetes.io/docs/concepts/services-networking/network-policies/):
 *  - default deny, both directions, for every pod in the lab namespace;
 *  - everything inside the lab namespace (node-to-node, the nested overlay);
 *  - DNS to the host's kube-dns, port 53 only;
 *  - SSH (and, if configured, the nested API) into the control plane from outside the cluster
 *    (any address but the host's pod, service, node and API ranges: with externalTrafficPolicy
 *    Local, learners keep their own source address) and from the platform namespace;
 *  - SSH into every node from the platform namespace (scenario scripts, the learner's key);
 *  - egress `internet`: everything but the host's ranges and the metadata address.
 * The SSH Service itself exists only while the lab is claimed (sshService).
 */
export const isolationPolicies: LabAddon = (lab) => {
  const { namespace, labels, platform } = lab;
  const meta = (name: string) => ({ name, namespace, labels });
  const policies: KubeObject[] = [
    policy(meta('default-deny'), { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    policy(meta('allow-within-lab'), {
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: {} }] }],
      egress: [{ to: [{ podSelector: {} }] }],
    }),
    policy(meta('allow-dns'), {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: platform.dns.namespace } },
              podSelector: { matchLabels: platform.dns.podLabels },
            },
          ],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    }),
    policy(meta('allow-access-to-control-plane'), {
      podSelector: { matchLabels: { [LABELS.lab]: lab.spec.labId, [LABELS.role]: 'control-plane' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            { ipBlock: { cidr: '0.0.0.0/0', except: clusterRanges(platform) } },
            { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: platform.platformNamespace } } },
          ],
          ports: accessPorts(platform).map((port) => ({ protocol: 'TCP', port })),
        },
      ],
    }),
    // Scenario scripts run on every node (`on: w1`, `workers`, `all`) and the learner's key goes
    // onto every node at claim: the platform reaches each node's sshd. Learners do not: they come
    // in through the control plane and `ssh w1` from there (inside the lab, allowed above).
    policy(meta('allow-platform-ssh-to-nodes'), {
      podSelector: { matchLabels: { [LABELS.lab]: lab.spec.labId } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: platform.platformNamespace } } }],
          ports: [{ protocol: 'TCP', port: 22 }],
        },
      ],
    }),
  ];
  if (lab.spec.egress === 'internet') {
    policies.push(
      policy(meta('allow-internet-egress'), {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: [...clusterRanges(platform), METADATA_CIDR] } }] }],
      }),
    );
  }
  return policies;
};

/** Ports opened into the control plane: SSH, and the nested API server when configured. */
export function accessPorts(platform: PlatformConfig): number[] {
  return platform.exposeNestedApiServer ? [22, 6443] : [22];
}

/** The host's pod, service, node and API server ranges, which no lab may reach or be reached from. */
function clusterRanges(platform: PlatformConfig): string[] {
  return hostRanges(platform).map((h) => h.range.cidr);
}

function policy(metadata: KubeObject['metadata'], spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata, spec };
}

/**
 * The NodePort Service that exposes a claimed lab's control plane. `externalTrafficPolicy: Local`
 * keeps the learner's source address (so the policy above can tell a learner from another lab)
 * and means only the node running the VM answers: hand out that node's address. See docs/adr/0005.
 */
export function sshService(
  lab: { labId: string; namespace: string; labels: Record<string, string> },
  nodePort: number,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: SSH_SERVICE_NAME,
      namespace: lab.namespace,
      labels: { ...lab.labels, 'breakfix.dev/exposure': 'ssh' },
    },
    spec: {
      type: 'NodePort',
      externalTrafficPolicy: 'Local',
      selector: { [LABELS.lab]: lab.labId, [LABELS.role]: 'control-plane' },
      ports: [{ name: 'ssh', protocol: 'TCP', port: 22, targetPort: 22, nodePort }],
    },
  };
}
