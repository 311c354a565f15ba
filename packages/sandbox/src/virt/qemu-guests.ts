import type { Kube, KubeObject } from '@breakfix/kube';
import type { Firmware, GuestImage, LabNetwork, NodeBackend, QemuHost, Vm } from '@breakfix/qemu';
import type { VirtualMachine, VirtualMachineInstance } from './vm-objects.js';

/** Finds the golden image a containerDisk reference names, or says why there is none. */
export type ImageResolver = (containerDisk: string) => GuestImage | { missing: string };

export interface QemuGuestsOptions {
  /** The QEMU host, made when the first guest boots (a sandbox without real guests needs no QEMU). */
  host: () => Promise<QemuHost>;
  kube: Kube;
  resolveImage: ImageResolver;
  log?: (line: string) => void;
}

/**
 * A real guest of a VMI: QEMU on the lab's network (or a container node: the same root file system
 * under systemd-nspawn, docs/adr/0037), SSH exposed on a loopback address.
 */
export interface QemuGuest {
  vm: Vm;
  /** The loopback address whose port 22 reaches the guest's (the sandbox's "pod IP"). */
  address: string;
  /** The address the lab's DHCP leased the guest, inside the lab's network namespace. */
  guestAddress(timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

interface Service extends KubeObject {
  spec?: { selector?: Record<string, string>; clusterIP?: string };
}

/**
 * Boots VMIs as QEMU guests. One lab network per namespace (the L2 segment KubeVirt's pod network
 * gives a lab's VMs), made with the first guest and closed with the last. The lab's DHCP hands out
 * the search domains KubeVirt's does; its DNS answers each Service of the namespace whose selector
 * picks a VM with that VM's own address, since nothing here implements ClusterIPs (ADR 0011).
 */
export function createQemuGuests(options: QemuGuestsOptions) {
  const { kube } = options;
  const log = options.log ?? (() => {});
  const networks = new Map<string, { network: Promise<LabNetwork>; guests: number }>();

  async function networkFor(namespace: string): Promise<LabNetwork> {
    let entry = networks.get(namespace);
    if (entry === undefined) {
      const network = (await options.host()).network(networkId(namespace), {
        searchDomains: [`${namespace}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'],
      });
      entry = { network, guests: 0 };
      networks.set(namespace, entry);
    }
    entry.guests++;
    return entry.network;
  }

  async function release(namespace: string): Promise<void> {
    const entry = networks.get(namespace);
    if (entry === undefined) return;
    entry.guests--;
    if (entry.guests > 0) return;
    networks.delete(namespace);
    await (await entry.network).close();
  }

  /** Services whose selector picks this VM's labels: their names resolve to the VM in the lab. */
  async function servicesSelecting(namespace: string, labels: Record<string, string>): Promise<string[]> {
    const services = await kube.list<Service>('v1', 'Service', { namespace });
    return services
      .filter((service) => {
        const selector = service.spec?.selector ?? {};
        const keys = Object.keys(selector);
        return keys.length > 0 && keys.every((key) => labels[key] === selector[key]);
      })
      .map((service) => `${service.metadata.name}.${namespace}.svc.cluster.local`);
  }

  async function boot(
    vm: VirtualMachine,
    vmi: VirtualMachineInstance,
    seed: { userData: string; networkData?: string },
    exposeAddress: string,
    node: NodeBackend = 'vm',
  ): Promise<QemuGuest | { unschedulable: string }> {
    const namespace = vm.metadata.namespace ?? '';
    const spec = vmi.spec as VmiSpec;
    const disk = spec.volumes?.find((volume) => volume.containerDisk !== undefined)?.containerDisk?.image;
    if (disk === undefined) return { unschedulable: `VM ${vm.metadata.name} has no containerDisk volume` };
    const image = options.resolveImage(disk);
    if ('missing' in image) return { unschedulable: image.missing };
    if (node === 'container' && image.raw === undefined) {
      return { unschedulable: `the golden image of ${disk} has no raw disk for a container node` };
    }

    const host = await options.host();
    const network = await networkFor(namespace);
    let booted: Vm | undefined;
    try {
      const hostname = spec.hostname ?? vm.metadata.name;
      booted = await host.boot({
        network,
        name: `${networkId(namespace)}-${vm.metadata.name}`.slice(0, 63).replace(/-+$/, ''),
        image,
        firmware: firmwareOf(spec),
        cpus: cpusOf(spec),
        memoryMiB: memoryMiBOf(spec),
        // As KubeVirt's cloudInitNoCloud: instance-id and local-hostname in meta-data.
        seed: {
          userData: seed.userData,
          metaData: `instance-id: ${vm.metadata.name}.${namespace}\nlocal-hostname: ${hostname}\n`,
          ...(seed.networkData === undefined ? {} : { networkData: seed.networkData }),
        },
        expose: { address: exposeAddress, ports: [22] },
        node,
      });
    } catch (error) {
      await release(namespace);
      throw error;
    }
    const vmHandle = booted;
    const labels = vmi.metadata.labels ?? {};
    for (const name of await servicesSelecting(namespace, labels)) network.setDnsRecord(name, vmHandle.plannedAddress);
    log(
      `${namespace}/${vm.metadata.name}: ${node === 'container' ? 'container node' : `QEMU (${host.accelerator})`} ${vmHandle.pid}, console ${vmHandle.consoleLog}`,
    );
    let stopped: Promise<void> | undefined;
    return {
      vm: vmHandle,
      address: exposeAddress,
      guestAddress: (timeoutMs) => vmHandle.address(timeoutMs),
      stop() {
        stopped ??= vmHandle.stop().finally(() => release(namespace));
        return stopped;
      },
    };
  }

  return { boot };
}

export interface VmiSpec {
  hostname?: string;
  domain?: {
    firmware?: { bootloader?: { bios?: object; efi?: { secureBoot?: boolean } } };
    cpu?: { cores?: number; sockets?: number; threads?: number };
    memory?: { guest?: string };
    resources?: { requests?: { memory?: string } };
  };
  volumes?: { containerDisk?: { image?: string } }[];
}

/**
 * The firmware KubeVirt gives the VMI: SeaBIOS unless `bootloader.efi`, and under `efi` Secure Boot
 * unless `secureBoot: false` (https://kubevirt.io/user-guide/compute/virtual_hardware/#biosuefi).
 * The disk is booted by that firmware, never by handing QEMU the kernel: a VM KubeVirt could not
 * boot does not boot here either.
 */
export function firmwareOf(spec: VmiSpec): Firmware {
  const efi = spec.domain?.firmware?.bootloader?.efi;
  if (efi === undefined) return 'bios';
  return efi.secureBoot === false ? 'efi' : 'efi-secure-boot';
}

/** The namespace as a DNS label short enough for interface and socket names. */
function networkId(namespace: string): string {
  return namespace.slice(0, 40).replace(/-+$/, '');
}

function cpusOf(spec: VmiSpec): number {
  const cpu = spec.domain?.cpu ?? {};
  return (cpu.cores ?? 1) * (cpu.sockets ?? 1) * (cpu.threads ?? 1);
}

/** Guest memory from `domain.memory.guest`, else the memory request, in MiB. */
function memoryMiBOf(spec: VmiSpec): number {
  const quantity = spec.domain?.memory?.guest ?? spec.domain?.resources?.requests?.memory ?? '1Gi';
  const match = /^(\d+)(Mi|Gi|M|G)?$/.exec(quantity);
  if (match === null) throw new Error(`cannot read the memory quantity ${quantity}`);
  const value = Number(match[1]);
  switch (match[2]) {
    case 'Gi':
      return value * 1024;
    case 'G':
      return Math.floor((value * 1e9) / 2 ** 20);
    case 'M':
      return Math.floor((value * 1e6) / 2 ** 20);
    case 'Mi':
      return value;
    default:
      return Math.floor(value / 2 ** 20);
  }
}
