import { LAUNCHER_CONTAINERS } from './kubevirt-launcher.js';

/**
 * The Kubernetes versions breakfix builds golden images for. Each entry names the exact release
 * the image carries (kubeadm/kubelet/kubectl are pinned to it) and the kubeadm config API it speaks.
 * Adding a version: build its image (images/README.md), add it here, add its kubeadm to infra/testbin.
 */
export interface KubernetesRelease {
  /** `1.36` */
  minor: string;
  /** `v1.36.3` */
  version: string;
  kubeadmApiVersion: 'kubeadm.k8s.io/v1beta4';
  /** Tag of the golden containerDisk image for this release. */
  imageTag: string;
}

export const KUBERNETES_RELEASES: readonly KubernetesRelease[] = [
  { minor: '1.34', version: 'v1.34.4', kubeadmApiVersion: 'kubeadm.k8s.io/v1beta4', imageTag: 'v1.34.4' },
  { minor: '1.35', version: 'v1.35.4', kubeadmApiVersion: 'kubeadm.k8s.io/v1beta4', imageTag: 'v1.35.4' },
  { minor: '1.36', version: 'v1.36.3', kubeadmApiVersion: 'kubeadm.k8s.io/v1beta4', imageTag: 'v1.36.3' },
];

export const DEFAULT_KUBERNETES_MINOR = '1.36';

/** Finds a release by `1.36`, `v1.36`, `1.36.3` or `v1.36.3`; undefined when unsupported. */
export function findRelease(requested: string): KubernetesRelease | undefined {
  const wanted = requested.trim().replace(/^v/, '');
  return KUBERNETES_RELEASES.find((release) => release.minor === wanted || release.version === `v${wanted}`);
}

export type NodeRole = 'control-plane' | 'worker';

export interface NodeSize {
  cores: number;
  /** Guest memory in MiB: what the guest's kernel sees (`domain.memory.guest`). */
  memoryMiB: number;
  /**
   * Memory the VM requests from the host cluster for its guest, MiB (`resources.requests.memory`).
   * Below `memoryMiB` it is KubeVirt's memory overcommit: the scheduler and the lab's quota count
   * this, the guest still sees `memoryMiB` (docs/adr/0030).
   */
  requestMemoryMiB: number;
  /** CPU the virt-launcher pod requests, in millicores (VMs may burst above it). */
  cpuRequestMilli: number;
}

export type SizeProfileName = 'small' | 'medium' | 'large';

/**
 * What a lab node's memory holds once kubeadm, flannel and a scenario's workload are up, measured
 * on real labs (guest `free -m` and the kubelet's summary API, mid-scenario; docs/adr/0030 has the
 * runs). `usedMiB` is what the guest cannot give back (processes, kernel); `cacheMiB` its page
 * cache, which grows to whatever the guest has and stays resident on the host.
 */
export const MEASURED_NODE_MEMORY: Readonly<Record<NodeRole, { usedMiB: number; cacheMiB: number }>> = {
  'control-plane': { usedMiB: 872, cacheMiB: 837 },
  worker: { usedMiB: 415, cacheMiB: 486 },
};

/** The margin over the measured `usedMiB` that an overcommitted profile requests (40 %). */
export const MEASURED_HEADROOM = 1.4;

/** The measured used memory with headroom, rounded up to 128 MiB: what `small` requests. */
const measuredRequest = (role: NodeRole) =>
  Math.ceil((MEASURED_NODE_MEMORY[role].usedMiB * MEASURED_HEADROOM) / 128) * 128;

/**
 * Size profiles. Memory is what the guest sees; kubeadm wants 2 vCPU and ~1.7 GiB on a control
 * plane. CPU requests are below the vCPU count: labs idle most of the time. `small` overcommits
 * memory (requests what a node was measured to use, plus headroom, not its whole guest), so many
 * small labs fit a host; `medium` and `large` request their whole guest (docs/adr/0030).
 */
export const SIZE_PROFILES: Readonly<Record<SizeProfileName, Readonly<Record<NodeRole, NodeSize>>>> = {
  small: {
    'control-plane': {
      cores: 2,
      memoryMiB: 2048,
      requestMemoryMiB: measuredRequest('control-plane'),
      cpuRequestMilli: 500,
    },
    worker: { cores: 1, memoryMiB: 1536, requestMemoryMiB: measuredRequest('worker'), cpuRequestMilli: 250 },
  },
  medium: {
    'control-plane': { cores: 2, memoryMiB: 3072, requestMemoryMiB: 3072, cpuRequestMilli: 1000 },
    worker: { cores: 2, memoryMiB: 2048, requestMemoryMiB: 2048, cpuRequestMilli: 500 },
  },
  large: {
    'control-plane': { cores: 4, memoryMiB: 4096, requestMemoryMiB: 4096, cpuRequestMilli: 2000 },
    worker: { cores: 2, memoryMiB: 4096, requestMemoryMiB: 4096, cpuRequestMilli: 1000 },
  },
};

/** Workers per lab at most: beyond this a lab is a cluster, not an exercise. */
export const MAX_WORKERS = 4;

/**
 * Memory KubeVirt adds to every virt-launcher pod on top of the guest (QEMU, libvirt, the
 * launcher): about 0.3 GiB, about 0.4 GiB with guest-agent exec probes. We count the larger; a
 * test holds it above launcherMemoryOverheadBytes (KubeVirt's own sum) for every size profile.
 */
export const VM_OVERHEAD_MIB = 410;

/**
 * What KubeVirt's virt-launcher pod requests per VM besides its compute container, at KubeVirt's
 * defaults (LAUNCHER_CONTAINERS, kubevirt-launcher.ts): the containerDisk's `volume<name>`
 * container (1m CPU, 1M memory) and the `guest-console-log` sidecar (5m, 35M).
 * The init containers (container-disk-binary 10m, volume<name>-init 1m) run one at a time beside
 * the sidecar, far below the compute container, so they never raise the pod's effective request.
 * Without this headroom the lab's quota refuses every launcher pod. 36 MB is 34.3 MiB: rounded up.
 */
export const LAUNCHER_SIDECARS = {
  cpuMilli: LAUNCHER_CONTAINERS.containerDisk.requests.cpuMilli + LAUNCHER_CONTAINERS.guestConsoleLog.requests.cpuMilli,
  memoryMiB: Math.ceil(
    (LAUNCHER_CONTAINERS.containerDisk.requests.memoryBytes +
      LAUNCHER_CONTAINERS.guestConsoleLog.requests.memoryBytes) /
      (1024 * 1024),
  ),
} as const;
