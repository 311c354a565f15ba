/**
 * The name of every lab VM's one interface and network: the pod network, bridge-bound, so the
 * guest owns the pod's address (render.ts). KubeVirt reports interfaces in `status.interfaces` by
 * that name; their order is not a contract (extra interfaces, or guest-agent-only entries such as
 * `lo` or the nested CNI's bridges, may come first).
 */
export const POD_INTERFACE = 'default';

/** What breakfix reads of a VirtualMachineInstance's status. */
export interface VmiStatus {
  phase?: string;
  nodeName?: string;
  interfaces?: { name?: string; ipAddress?: string; ipAddresses?: string[] }[];
}

/**
 * The guest's address on the pod network: the `default` interface's `ipAddress`, or undefined
 * while it has none. KubeVirt may report a VMI Running before it knows the address (it learns it
 * from the guest agent or DHCP), so "Running" alone is not "reachable".
 */
export function vmiAddress(vmi: { status?: VmiStatus } | undefined): string | undefined {
  const address = vmi?.status?.interfaces?.find((i) => i.name === POD_INTERFACE)?.ipAddress;
  return address === undefined || address === '' ? undefined : address;
}
