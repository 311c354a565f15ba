/**
 * The test apiserver's --service-node-port-range (30000-32767) is one pool for every test file that
 * runs at once. Allocators that choose their own port, and re-pick when the apiserver says it is
 * taken, share SHARED_NODE_PORTS. A test that needs one particular port (a squatter, a duplicate, a
 * dry run, which cannot re-pick) takes it from a band of its own, which nothing else in the run
 * leases, so a concurrent file can never hold it first.
 */
export const SHARED_NODE_PORTS: { readonly first: number; readonly last: number } = { first: 30000, last: 31699 };

const BANDS = {
  'kube-duplicate': [31700, 31799],
  'allocator-squatter': [31800, 32099],
  'allocator-adopt': [32100, 32299],
  rbac: [32300, 32399],
  'manifests-quota': [32400, 32499],
  'manifests-validators': [32500, 32599],
  'allocator-instances': [32600, 32699],
  'sandbox-proxy': [32700, 32767],
} as const satisfies Record<string, readonly [number, number]>;

export type NodePortBand = keyof typeof BANDS;

/** The whole band, e.g. as an allocator's range. */
export function nodePortBand(band: NodePortBand): { first: number; last: number } {
  const [first, last] = BANDS[band];
  return { first, last };
}

/** A random start of `count` consecutive ports inside the band. */
export function pinnedNodePort(band: NodePortBand, count = 1): number {
  const { first, last } = nodePortBand(band);
  return first + Math.floor(Math.random() * (last - first + 2 - count));
}
