import { InvalidInputError } from '@breakfix/core';
import { z } from 'zod';
import {
  DEFAULT_KUBERNETES_MINOR,
  findRelease,
  KUBERNETES_RELEASES,
  type KubernetesRelease,
  MAX_WORKERS,
  type SizeProfileName,
} from './catalog.js';
import { type Ipv4Range, overlaps, parseCidr } from './cidr.js';
import { DEFAULT_INSTANCE, INSTANCE_NAME } from './instance.js';

const LAB_ID = /^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$/;

/** The nested clusters' pod networks: flannel (VXLAN) by default, Calico where scenarios need NetworkPolicy. */
export const CNIS = ['flannel', 'calico'] as const;
export type Cni = (typeof CNIS)[number];
const BANDWIDTH = /^\d+[KMG]$/;

const labSpecSchema = z.strictObject({
  labId: z
    .string()
    .regex(LAB_ID, 'must be 1-20 lowercase letters, digits or dashes, starting and ending with a letter or digit'),
  kubernetesVersion: z.string().default(DEFAULT_KUBERNETES_MINOR),
  workers: z.number().int('must be a whole number').min(0, 'cannot be negative').default(0),
  size: z.enum(['small', 'medium', 'large']).default('medium'),
  cni: z.enum(CNIS).default('flannel'),
  egress: z.enum(['none', 'internet']).default('none'),
  bandwidth: z
    .strictObject({
      ingress: z.string().regex(BANDWIDTH, 'must look like 100M').optional(),
      egress: z.string().regex(BANDWIDTH, 'must look like 100M').optional(),
    })
    .optional(),
});

const platformSchema = z.strictObject({
  /**
   * This install's name on the host cluster: every lab object carries it as `breakfix.dev/instance`,
   * and the reconcilers touch only their own instance's labs. Two installs on one cluster need
   * different names (docs/adr/0029).
   */
  instance: z
    .string()
    .regex(
      INSTANCE_NAME,
      'must be a DNS label: 1-63 lowercase letters, digits or dashes, starting and ending with a letter or digit',
    )
    .default(DEFAULT_INSTANCE),
  /** Lab namespaces are `<prefix><labId>`. */
  namespacePrefix: z
    .string()
    .regex(/^[a-z0-9-]{1,20}$/)
    .default('lab-'),
  /** Golden image repository; the tag comes from the version catalog. */
  imageRepository: z.string().min(1).default('registry.example.com/breakfix/node'),
  /** The host cluster's own ranges: nested clusters must not overlap them. */
  hostNetworks: z
    .strictObject({
      podCidrs: z.array(z.string()).default(['10.244.0.0/16']),
      serviceCidrs: z.array(z.string()).default(['10.96.0.0/12']),
      nodeCidrs: z.array(z.string()).default([]),
      /** Where the host cluster's API server listens, when outside the ranges above. */
      apiServerCidrs: z.array(z.string()).default([]),
    })
    .default({ podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], nodeCidrs: [], apiServerCidrs: [] }),
  /** The namespace breakfix's own workloads run in; the only in-cluster source allowed to SSH into labs. */
  platformNamespace: z
    .string()
    .regex(/^[a-z0-9-]{1,63}$/)
    .default('breakfix-system'),
  /** Also open the nested cluster's API (6443) to learners and the platform, not only SSH. */
  exposeNestedApiServer: z.boolean().default(false),
  /** Where the host cluster's DNS runs; labs may reach it on port 53 only. */
  dns: z
    .strictObject({
      namespace: z.string().default('kube-system'),
      podLabels: z.record(z.string(), z.string()).default({ 'k8s-app': 'kube-dns' }),
    })
    .default({ namespace: 'kube-system', podLabels: { 'k8s-app': 'kube-dns' } }),
  /** The nested clusters' ranges (the same in every lab: labs never route to each other). */
  nested: z
    .strictObject({ podSubnet: z.string().default('10.243.0.0/16'), serviceSubnet: z.string().default('10.95.0.0/16') })
    .default({ podSubnet: '10.243.0.0/16', serviceSubnet: '10.95.0.0/16' }),
  operator: z.strictObject({
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/)
      .default('breakfix'),
    publicKey: z.string().regex(/^ssh-(ed25519|rsa) [A-Za-z0-9+/=]+/, 'must be an OpenSSH public key'),
  }),
  /** NodePorts breakfix may lease for learners' SSH: a part of the apiserver's --service-node-port-range. */
  nodePorts: z
    .strictObject({ first: z.number().int().min(1).max(65535), last: z.number().int().min(1).max(65535) })
    .refine((r) => r.first <= r.last, { message: 'first must not exceed last', path: ['last'] })
    .default({ first: 30000, last: 32767 }),
  /** The account learners log in as (sudo without password); their key is installed at claim. */
  learner: z
    .strictObject({
      user: z
        .string()
        .regex(/^[a-z_][a-z0-9_-]{0,31}$/)
        .default('learner'),
    })
    .default({ user: 'learner' }),
  /** How long a node may take to boot into its cluster before it reports failure. */
  bootstrapTimeoutSeconds: z.number().int().min(60).default(900),
  /** The host cluster's DNS domain (where `cp-api.<ns>.svc.<domain>` resolves). */
  hostClusterDomain: z.string().default('cluster.local'),
});

export type LabSpecInput = z.input<typeof labSpecSchema>;
export type PlatformConfigInput = z.input<typeof platformSchema>;
export type PlatformConfig = z.output<typeof platformSchema>;

export interface LabSpec extends Omit<z.output<typeof labSpecSchema>, 'kubernetesVersion'> {
  release: KubernetesRelease;
  size: SizeProfileName;
}

/** Validates a lab request; errors name the field and say what is allowed. */
export function parseLabSpec(input: unknown): LabSpec {
  const parsed = labSpecSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(`invalid lab spec: ${describeIssues(parsed.error)}`);
  const { kubernetesVersion, ...rest } = parsed.data;
  const release = findRelease(kubernetesVersion);
  if (release === undefined) {
    throw new InvalidInputError(
      `kubernetesVersion: ${kubernetesVersion} is not supported; supported: ${KUBERNETES_RELEASES.map((r) => `${r.minor} (${r.version})`).join(', ')}`,
    );
  }
  if (rest.workers > MAX_WORKERS) {
    throw new InvalidInputError(`workers: ${rest.workers} is too many; a lab has at most ${MAX_WORKERS} workers`);
  }
  return { ...rest, release };
}

/** Validates platform configuration, including that nested ranges stay clear of the host's. */
export function parsePlatformConfig(input: unknown): PlatformConfig {
  const parsed = platformSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(`invalid platform config: ${describeIssues(parsed.error)}`);
  const config = parsed.data;
  const nested = [
    parseCidr(config.nested.podSubnet, 'nested.podSubnet'),
    parseCidr(config.nested.serviceSubnet, 'nested.serviceSubnet'),
  ] as const;
  const [pod, service] = nested;
  if (overlaps(pod, service)) {
    throw new InvalidInputError(`nested.podSubnet ${pod.cidr} overlaps nested.serviceSubnet ${service.cidr}`);
  }
  const host = hostRanges(config);
  for (const [field, range] of [
    ['nested.podSubnet', pod],
    ['nested.serviceSubnet', service],
  ] as const) {
    const clash = host.find((h) => overlaps(h.range, range));
    if (clash !== undefined) {
      throw new InvalidInputError(
        `${field} ${range.cidr} overlaps the host cluster's ${clash.name} ${clash.range.cidr}: nested traffic would be routed to the host`,
        { hint: `pick a nested range outside ${clash.range.cidr} (platform config "nested")` },
      );
    }
  }
  return config;
}

/** Every host range a lab must stay clear of, with the config field it came from. */
export function hostRanges(config: PlatformConfig): { name: string; range: Ipv4Range }[] {
  const groups = ['podCidrs', 'serviceCidrs', 'nodeCidrs', 'apiServerCidrs'] as const;
  return groups.flatMap((group) =>
    config.hostNetworks[group].map((cidr, i) => {
      const name = `hostNetworks.${group}[${i}]`;
      return { name, range: parseCidr(cidr, name) };
    }),
  );
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length === 0 ? '(root)' : issue.path.join('.')}: ${issue.message}`)
    .join('; ');
}
