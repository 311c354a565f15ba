/**
 * What KubeVirt's virt-controller asks of the host cluster for one VMI: the resources of its
 * virt-launcher pod's containers at KubeVirt's defaults (the KubeVirt CR's
 * `supportContainerResources` can change them) and the memory overhead it adds to the compute
 * container. Transcribed from kubevirt/kubevirt (pkg/virt-controller/services/template.go,
 * renderresources.go, serialconsolelog.go, pkg/container-disk/container-disk.go and
 * pkg/hypervisor/kvm/hypervisorbackend.go): the lab quota (render.ts) and the sandbox's launcher
 * pods both count from here.
 */

const MI = 1024 * 1024;
const M = 1_000_000;

export interface ContainerResources {
  requests: { cpuMilli: number; memoryBytes: number; ephemeralStorageBytes?: number };
  limits: { cpuMilli: number; memoryBytes: number };
}

/** KubeVirt adds this much ephemeral storage to the compute and containerDisk containers' requests. */
export const EPHEMERAL_STORAGE_OVERHEAD_BYTES = 50 * M;

/** The support containers of a virt-launcher pod, by their role, at KubeVirt's defaults. */
export const LAUNCHER_CONTAINERS = {
  /** `volume<name>`: serves one containerDisk (and `volume<name>-init`, which pre-pulls it). */
  containerDisk: {
    requests: { cpuMilli: 1, memoryBytes: 1 * M, ephemeralStorageBytes: EPHEMERAL_STORAGE_OVERHEAD_BYTES },
    limits: { cpuMilli: 10, memoryBytes: 40 * M },
  },
  /** `container-disk-binary`: an init container copying the containerDisk server into the pod. */
  containerDiskBinary: {
    requests: { cpuMilli: 10, memoryBytes: 1 * M },
    limits: { cpuMilli: 100, memoryBytes: 40 * M },
  },
  /** `guest-console-log`: a sidecar (restartable init container), on unless the VM turns it off. */
  guestConsoleLog: {
    requests: { cpuMilli: 5, memoryBytes: 35 * M },
    limits: { cpuMilli: 15, memoryBytes: 60 * M },
  },
} as const satisfies Record<string, ContainerResources>;

/** The parts of a VMI's `spec.domain` KubeVirt's memory overhead depends on. */
export interface DomainForOverhead {
  cpu?: { cores?: number; sockets?: number; threads?: number; dedicatedCpuPlacement?: boolean };
  memory?: { guest?: string };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  devices?: {
    autoattachGraphicsDevice?: boolean;
    gpus?: unknown[];
    hostDevices?: unknown[];
    tpm?: { enabled?: boolean };
  };
  launchSecurity?: unknown;
}

/** The parts of a VMI's `spec` the overhead depends on besides its domain. */
export interface VmiSpecForOverhead {
  domain: DomainForOverhead;
  livenessProbe?: { exec?: unknown };
  readinessProbe?: { exec?: unknown };
  volumes?: { downwardMetrics?: unknown }[];
}

/**
 * The memory KubeVirt adds to the compute container on top of the guest's request, in bytes, for
 * an amd64 node and no `additionalGuestMemoryOverheadRatio` (KvmHypervisorBackend.GetMemoryOverhead):
 * page tables (1/512 of the request), the launcher's processes (240Mi), 8Mi per vCPU, 8Mi for the
 * IO thread, 32Mi of video RAM unless the graphics device is off, and the extras for VFIO devices,
 * exec probes, TPM, SEV and dedicated CPUs.
 */
export function launcherMemoryOverheadBytes(spec: VmiSpecForOverhead): number {
  const domain = spec.domain;
  const request = domain.resources?.requests?.memory ?? domain.memory?.guest;
  // A Quantity scaled to kilo rounds up; the page tables are 1/512 of that, rounded down.
  const kilo = request === undefined ? 0 : Math.ceil(parseQuantity(request) / 1000);
  let overhead = Math.floor((kilo * 1000) / 512);
  // virt-launcher-monitor 25Mi, virt-launcher 100Mi, virtlogd 25Mi, virtqemud 40Mi, qemu 50Mi.
  overhead += (25 + 100 + 25 + 40 + 50) * MI;
  overhead += 8 * MI * vcpus(domain);
  overhead += 8 * MI; // the IO thread
  if (domain.devices?.autoattachGraphicsDevice !== false) overhead += 32 * MI;
  if ((domain.devices?.gpus?.length ?? 0) > 0 || (domain.devices?.hostDevices?.length ?? 0) > 0) overhead += 1024 * MI;
  if (spec.volumes?.some((volume) => volume.downwardMetrics !== undefined)) overhead += 1 * MI;
  const liveness = spec.livenessProbe?.exec !== undefined;
  const readiness = spec.readinessProbe?.exec !== undefined;
  if (liveness) overhead += 10 * MI;
  if (readiness) overhead += 10 * MI;
  if (liveness || readiness) overhead += 100 * MI;
  if (domain.launchSecurity !== undefined) overhead += 256 * MI;
  if (domain.devices?.tpm !== undefined && domain.devices.tpm.enabled !== false) overhead += 53 * MI;
  if (domain.cpu?.dedicatedCpuPlacement === true) overhead += 100 * MI;
  return overhead;
}

/** The guest's vCPUs: sockets x cores x threads, else the CPU limit or request, at least 1. */
export function vcpus(domain: DomainForOverhead): number {
  const cpu = domain.cpu;
  let count = 0;
  if (cpu !== undefined) {
    for (const factor of [cpu.cores, cpu.sockets, cpu.threads]) {
      if (factor !== undefined && factor !== 0) count = count === 0 ? factor : count * factor;
    }
  } else {
    const quantity = domain.resources?.limits?.cpu ?? domain.resources?.requests?.cpu;
    if (quantity !== undefined) count = Math.ceil(parseQuantity(quantity));
  }
  return Math.max(count, 1);
}

const SUFFIXES: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** A Kubernetes quantity (`2048Mi`, `500m`, `1.5`, `35M`) as a plain number (bytes, cores). */
export function parseQuantity(quantity: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(quantity.trim());
  const factor = SUFFIXES[match?.[2] ?? ''];
  if (match === null || factor === undefined) throw new Error(`"${quantity}" is not a Kubernetes quantity`);
  return Number(match[1]) * factor;
}
