import {
  LAUNCHER_SIDECARS,
  MEASURED_NODE_MEMORY,
  type NodeRole,
  SIZE_PROFILES,
  type SizeProfileName,
  VM_OVERHEAD_MIB,
} from './catalog.js';
import { launcherPodRequests } from './render.js';

export interface LabShape {
  workers: number;
  size: SizeProfileName;
}

export interface Footprint {
  vms: number;
  /** Memory the lab's virt-launcher pods request: guests, KubeVirt's per-VM overhead and support containers. */
  memoryMiB: number;
  cpuMilli: number;
}

/** What one lab asks the host cluster's scheduler for (the same numbers its ResourceQuota allows). */
export function labFootprint(shape: LabShape): Footprint {
  const profile = SIZE_PROFILES[shape.size];
  const sizes = [profile['control-plane'], ...Array.from({ length: shape.workers }, () => profile.worker)];
  return {
    vms: sizes.length,
    memoryMiB: sizes.reduce((sum, size) => sum + launcherPodRequests(size).memoryMiB, 0),
    cpuMilli: sizes.reduce((sum, size) => sum + launcherPodRequests(size).cpuMilli, 0),
  };
}

/**
 * What one lab was measured to hold on its host (MEASURED_NODE_MEMORY): per VM, the guest's used
 * memory and page cache (at most the guest's size: cache grows until the guest is full, and a
 * guest's pages stay resident on the host), KubeVirt's overhead and the support containers. What
 * the host needs with no page shared between labs (KSM) and no swap.
 */
export function measuredLabMemoryMiB(shape: LabShape): number {
  const profile = SIZE_PROFILES[shape.size];
  const roles: NodeRole[] = ['control-plane', ...Array.from({ length: shape.workers }, () => 'worker' as const)];
  return roles.reduce((sum, role) => {
    const measured = MEASURED_NODE_MEMORY[role];
    const resident = Math.min(measured.usedMiB + measured.cacheMiB, profile[role].memoryMiB);
    return sum + resident + VM_OVERHEAD_MIB + LAUNCHER_SIDECARS.memoryMiB;
  }, 0);
}

export interface HostCapacity {
  /** Allocatable memory of one host, MiB. */
  memoryMiB: number;
  /** Allocatable CPU, millicores; omit to count memory only. */
  cpuMilli?: number;
}

/** How many labs of one shape fit on a host by their requests, and what bounds it. */
export function labsPerHost(host: HostCapacity, shape: LabShape): { labs: number; limitedBy: 'memory' | 'cpu' } {
  const footprint = labFootprint(shape);
  const byMemory = Math.floor(host.memoryMiB / footprint.memoryMiB);
  const byCpu = host.cpuMilli === undefined ? Number.POSITIVE_INFINITY : Math.floor(host.cpuMilli / footprint.cpuMilli);
  return byCpu < byMemory ? { labs: byCpu, limitedBy: 'cpu' } : { labs: byMemory, limitedBy: 'memory' };
}

/** Parses Kubernetes-style memory quantities (`64Gi`, `65536Mi`, `64G`) into MiB. */
export function parseMemoryMiB(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$/.exec(quantity.trim());
  if (match === null) throw new Error(`"${quantity}" is not a memory quantity such as 64Gi`);
  const value = Number(match[1]);
  const factor: Record<string, number> = {
    Ki: 1 / 1024,
    Mi: 1,
    Gi: 1024,
    Ti: 1024 * 1024,
    K: 1000 / 1048576,
    M: 1e6 / 1048576,
    G: 1e9 / 1048576,
    T: 1e12 / 1048576,
  };
  return Math.floor(value * (factor[match[2] ?? ''] ?? 1 / 1048576));
}
