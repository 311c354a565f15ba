import type { Kube, KubeObject } from '@breakfix/kube';
import type { PoolConfig } from '@breakfix/manifests';
import { LABELS, labFootprint, parseMemoryMiB } from '@breakfix/manifests';
import type { Environment } from '@breakfix/pool';

/** Free room on the host cluster, after everything already there and every lab breakfix holds. */
export interface FreeCapacity {
  memoryMiB: number;
  cpuMilli: number;
  /** Nodes counted (schedulable and matching the selector). */
  nodes: number;
}

interface NodeObject extends KubeObject {
  spec?: { unschedulable?: boolean };
  status?: { allocatable?: Record<string, string> };
}

interface PodObject extends KubeObject {
  spec?: { nodeName?: string; containers?: { resources?: { requests?: Record<string, string> } }[] };
  status?: { phase?: string };
}

/** KubeVirt labels the nodes that can run VMs (virt-handler is up on them). */
export const DEFAULT_NODE_SELECTOR = 'kubevirt.io/schedulable=true';

/** Parses `500m` / `2` / `1.5` into millicores. */
export function parseCpuMilli(quantity: string): number {
  const text = quantity.trim();
  return text.endsWith('m') ? Number(text.slice(0, -1)) : Math.round(Number(text) * 1000);
}

/**
 * The capacity guard's reading of the cluster: allocatable of the schedulable VM nodes, minus
 * the requests of every running pod that is not a lab's, minus the footprint of every lab
 * breakfix holds (provisioning to releasing). Labs are counted from our records rather than from
 * their virt-launcher pods, because a lab just enqueued has no pod yet and would be counted twice
 * or not at all.
 */
export async function readFreeCapacity(
  kube: Kube,
  environments: readonly Environment[],
  pools: ReadonlyMap<string, PoolConfig>,
  nodeSelector = DEFAULT_NODE_SELECTOR,
): Promise<FreeCapacity> {
  const nodes = (await kube.list<NodeObject>('v1', 'Node', { labelSelector: nodeSelector })).filter(
    (node) => node.spec?.unschedulable !== true,
  );
  const names = new Set(nodes.map((node) => node.metadata.name));
  let memoryMiB = 0;
  let cpuMilli = 0;
  for (const node of nodes) {
    memoryMiB += parseMemoryMiB(node.status?.allocatable?.memory ?? '0');
    cpuMilli += parseCpuMilli(node.status?.allocatable?.cpu ?? '0');
  }
  for (const pod of await kube.list<PodObject>('v1', 'Pod')) {
    if (pod.metadata.labels?.[LABELS.lab] !== undefined) continue; // counted below, from our records
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    if (pod.spec?.nodeName === undefined || !names.has(pod.spec.nodeName)) continue;
    for (const container of pod.spec.containers ?? []) {
      memoryMiB -= parseMemoryMiB(container.resources?.requests?.memory ?? '0');
      cpuMilli -= parseCpuMilli(container.resources?.requests?.cpu ?? '0');
    }
  }
  for (const env of environments) {
    if (env.state === 'deleted' || env.state === 'failed') continue;
    const pool = pools.get(env.pool);
    if (pool === undefined) continue;
    const footprint = labFootprint({ workers: pool.workers, size: pool.size });
    memoryMiB -= footprint.memoryMiB;
    cpuMilli -= footprint.cpuMilli;
  }
  return { memoryMiB, cpuMilli, nodes: nodes.length };
}

/** How many labs of a pool's shape fit into what is free. */
export function labsThatFit(free: Pick<FreeCapacity, 'memoryMiB' | 'cpuMilli'>, pool: PoolConfig): number {
  const footprint = labFootprint({ workers: pool.workers, size: pool.size });
  return Math.max(
    0,
    Math.min(Math.floor(free.memoryMiB / footprint.memoryMiB), Math.floor(free.cpuMilli / footprint.cpuMilli)),
  );
}
