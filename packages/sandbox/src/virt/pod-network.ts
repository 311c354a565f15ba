import { parseCidr } from '@breakfix/manifests';

/**
 * The platform's default host pod range (packages/manifests `hostNetworks.podCidrs`), which no
 * interface or route of a sandbox host uses: addresses here are only ever written into the API.
 */
export const DEFAULT_POD_CIDR = '10.244.0.0/16';

/**
 * The sandbox's pod network. A launcher pod gets an address of the pod range as `status.podIP`,
 * as a CNI gives it on a host cluster, so the EndpointSlice controller publishes it (it refuses
 * loopback addresses). Nothing ever sends a packet to such an address: the only way to one is
 * `exposureOf`, the loopback address where that pod's guest really listens (ADR 0031).
 */
export interface PodNetwork {
  readonly cidr: string;
  /** Gives a pod the next free address of the range, mapped to its guest's loopback exposure. */
  attach(exposure: string): string;
  /** The loopback address behind a pod address; undefined when no running pod holds it. */
  exposureOf(podAddress: string): string | undefined;
  /**
   * Frees a pod's address (its pod ended or went), if it still maps to `exposure`: safe to call
   * twice, even after the address went to another pod.
   */
  release(podAddress: string, exposure: string): void;
  /** How many addresses pods hold now. */
  inUse(): number;
}

/**
 * Allocates as the host-local IPAM plugin does: round-robin from the last address handed out,
 * skipping the network address, the gateway (the first host) and the broadcast address, so a
 * released address is the last to come back (an EndpointSlice that still names it meanwhile
 * points at no other pod).
 */
export function createPodNetwork(cidr: string = DEFAULT_POD_CIDR): PodNetwork {
  const range = parseCidr(cidr, 'pod CIDR');
  const first = range.first + 2;
  const last = range.last - 1;
  if (last < first) throw new Error(`pod CIDR ${cidr} has no room for pods`);
  const held = new Map<string, string>();
  let next = first;
  return {
    cidr,
    attach(exposure) {
      if (!exposure.startsWith('127.'))
        throw new Error(`a guest's exposure must be a loopback address, not ${exposure}`);
      for (let tried = 0; tried <= last - first; tried++) {
        const candidate = format(next);
        next = next === last ? first : next + 1;
        if (!held.has(candidate)) {
          held.set(candidate, exposure);
          return candidate;
        }
      }
      throw new Error(`the sandbox's pod network ${cidr} has no free address (${held.size} pods hold one)`);
    },
    exposureOf: (podAddress) => held.get(podAddress),
    release(podAddress, exposure) {
      if (held.get(podAddress) === exposure) held.delete(podAddress);
    },
    inUse: () => held.size,
  };
}

function format(address: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join('.');
}
