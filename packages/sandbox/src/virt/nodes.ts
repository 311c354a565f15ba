import type { Kube, KubeObject } from '@breakfix/kube';
import { parseQuantity } from '@breakfix/manifests';
import { SCHEDULABLE_LABEL } from './launcher-pod.js';

/** A host node of the simulated cluster: what its kubelet and virt-handler would report. */
export interface SimulatedNode {
  name: string;
  /**
   * Node addresses: loopback addresses of the sandbox's own /16, where its kube-proxy serves the
   * NodePorts of Services with ready endpoints on this node (ADR 0031).
   */
  internalIP: string;
  externalIP: string;
  /** Allocatable resources, as quantities (`cpu: '64'`, `memory: '256Gi'`, `pods: '250'`). */
  allocatable: Record<string, string>;
  /** Extra labels (zone, say); `kubernetes.io/hostname` and `kubevirt.io/schedulable` are always set. */
  labels?: Record<string, string>;
}

/**
 * Third octets of the sandbox's loopback /16 (`127.P`) its nodes' addresses take; guests never get
 * an address there (simulator.ts).
 */
export const NODE_OCTETS = { internal: 255, external: 254 } as const;

/**
 * Three nodes large enough for the labs tests and benchmarks run at once, with the devices
 * virt-handler's device plugins advertise (1000 each). Their addresses are loopback addresses of
 * the sandbox's own prefix (`127.P.255.n` internal, `127.P.254.n` external), the only kind the
 * platform may dial: the sandbox's kube-proxy listens there.
 */
export function defaultNodes(addressPrefix: string): SimulatedNode[] {
  return [1, 2, 3].map((n) => ({
    name: `sim-node-${n}`,
    internalIP: `${addressPrefix}.${NODE_OCTETS.internal}.${n}`,
    externalIP: `${addressPrefix}.${NODE_OCTETS.external}.${n}`,
    allocatable: { cpu: '128', memory: '512Gi', pods: '250', 'ephemeral-storage': '1Ti' },
  }));
}

const DEVICES: Record<string, string> = {
  'devices.kubevirt.io/kvm': '1k',
  'devices.kubevirt.io/tun': '1k',
  'devices.kubevirt.io/vhost-net': '1k',
};

export function nodeObject(node: SimulatedNode): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      labels: {
        'kubernetes.io/hostname': node.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        [SCHEDULABLE_LABEL]: 'true',
        ...node.labels,
      },
    },
  };
}

/** The status a kubelet (and virt-handler's device plugins) report for a node. */
export function nodeStatus(node: SimulatedNode, now = new Date()): Record<string, unknown> {
  const time = now.toISOString().replace(/\.\d+Z$/, 'Z');
  const resources = { ...DEVICES, ...node.allocatable };
  return {
    capacity: resources,
    allocatable: resources,
    addresses: [
      { type: 'InternalIP', address: node.internalIP },
      { type: 'ExternalIP', address: node.externalIP },
      { type: 'Hostname', address: node.name },
    ],
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'KubeletReady',
        message: 'kubelet is posting ready status (simulated)',
        lastHeartbeatTime: time,
        lastTransitionTime: time,
      },
    ],
    nodeInfo: {
      machineID: '',
      systemUUID: '',
      bootID: '',
      kernelVersion: '',
      osImage: 'breakfix simulated node',
      containerRuntimeVersion: 'simulated://0',
      kubeletVersion: 'v0.0.0-simulated',
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: 'amd64',
    },
  };
}

/**
 * The node's heartbeat, as its kubelet renews it every 10 s: without it the controller manager's
 * node lifecycle controller marks the node unreachable, taints it and evicts its pods.
 */
export function nodeLease(node: SimulatedNode, now = new Date()): KubeObject {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: node.name, namespace: 'kube-node-lease' },
    spec: {
      holderIdentity: node.name,
      leaseDurationSeconds: 40,
      renewTime: now.toISOString().replace('Z', '000Z'),
    },
  };
}

/** What the scheduler needs of a pod. */
export interface PodForScheduling {
  spec?: {
    nodeName?: string;
    nodeSelector?: Record<string, string>;
    containers?: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[];
    initContainers?: {
      restartPolicy?: string;
      resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
    }[];
  };
  status?: { phase?: string };
}

/**
 * A pod's effective request of one resource, as the scheduler counts it: the sum of its containers
 * and sidecars (restartable init containers), or the largest init container plus the sidecars
 * started before it, whichever is more. A resource only limited (extended resources) requests its limit.
 */
export function podRequest(pod: PodForScheduling, resource: string): number {
  const of = (container: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }) => {
    const quantity = container.resources?.requests?.[resource] ?? container.resources?.limits?.[resource];
    return quantity === undefined ? 0 : parseQuantity(quantity);
  };
  let sidecars = 0;
  let initPeak = 0;
  for (const init of pod.spec?.initContainers ?? []) {
    if (init.restartPolicy === 'Always') {
      sidecars += of(init);
      initPeak = Math.max(initPeak, sidecars);
    } else {
      initPeak = Math.max(initPeak, sidecars + of(init));
    }
  }
  const running = (pod.spec?.containers ?? []).reduce((sum, container) => sum + of(container), 0) + sidecars;
  return Math.max(running, initPeak);
}

/**
 * Picks a node for a pod as kube-scheduler's filters would (node selector, then room for every
 * requested resource and one more pod), preferring the least requested node. Unschedulable: the
 * scheduler's message, "0/3 nodes are available: 3 Insufficient memory."
 */
export function schedule(
  pod: PodForScheduling,
  nodes: readonly SimulatedNode[],
  bound: readonly PodForScheduling[],
): { nodeName: string } | { unschedulable: string } {
  const reasons = new Map<string, number>();
  const fits: { name: string; load: number }[] = [];
  const resourcesOf = (node: SimulatedNode): Record<string, string> => ({ ...DEVICES, ...node.allocatable });
  for (const node of nodes) {
    const selector = pod.spec?.nodeSelector ?? {};
    const labels = (nodeObject(node).metadata.labels ?? {}) as Record<string, string>;
    if (Object.entries(selector).some(([key, value]) => labels[key] !== value)) {
      count(reasons, "node(s) didn't match Pod's node affinity/selector");
      continue;
    }
    const onNode = bound.filter((other) => other.spec?.nodeName === node.name && !terminal(other));
    const allocatable = resourcesOf(node);
    const missing: string[] = [];
    if (onNode.length + 1 > parseQuantity(allocatable.pods ?? '110')) missing.push('Too many pods');
    const wanted = new Set(
      [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].flatMap((c) => [
        ...Object.keys(c.resources?.requests ?? {}),
        ...Object.keys(c.resources?.limits ?? {}),
      ]),
    );
    let load = 0;
    for (const resource of [...wanted].sort()) {
      const request = podRequest(pod, resource);
      if (request === 0) continue;
      const used = onNode.reduce((sum, other) => sum + podRequest(other, resource), 0);
      const quantity = allocatable[resource];
      const capacity = quantity === undefined ? 0 : parseQuantity(quantity);
      if (used + request > capacity) missing.push(`Insufficient ${resource}`);
      else if (capacity > 0) load = Math.max(load, (used + request) / capacity);
    }
    if (missing.length > 0) {
      for (const reason of missing) count(reasons, reason);
      continue;
    }
    fits.push({ name: node.name, load });
  }
  const best = fits.sort((a, b) => a.load - b.load || a.name.localeCompare(b.name))[0];
  if (best !== undefined) return { nodeName: best.name };
  const parts = [...reasons.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([reason, n]) => `${n} ${reason}`);
  return { unschedulable: `0/${nodes.length} nodes are available: ${parts.join(', ')}.` };
}

function count(reasons: Map<string, number>, reason: string): void {
  reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
}

function terminal(pod: PodForScheduling): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** Registers the nodes and keeps their heartbeats going until stopped. */
export async function registerNodes(
  kube: Kube,
  nodes: readonly SimulatedNode[],
  log: (message: string) => void,
): Promise<{ stop(): void }> {
  // The node lifecycle controller takes a renewed Lease as the heartbeat; the status is posted once.
  const beat = async () => {
    for (const node of nodes) await kube.apply(nodeLease(node));
  };
  for (const node of nodes) {
    await kube.apply(nodeObject(node));
    await kube.patchStatus({ apiVersion: 'v1', kind: 'Node', name: node.name }, nodeStatus(node));
  }
  await beat();
  const timer = setInterval(() => {
    beat().catch((error: unknown) => log(`node heartbeat failed: ${(error as Error).message}`));
  }, 10_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
