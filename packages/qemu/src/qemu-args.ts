import { type Accelerator, acceleratorArgs } from './accelerator.js';

export interface QemuArgsInput {
  name: string;
  accelerator: Accelerator;
  cpus: number;
  memoryMiB: number;
  /** The VM's copy-on-write qcow2 overlay. */
  overlay: string;
  seedIso: string;
  tap: string;
  mac: string;
  consoleLog: string;
  qmpSocket: string;
  kernel?: { kernel: string; initrd?: string; cmdline: string };
  /**
   * UEFI firmware (OVMF): its code, read-only, and this VM's own variable store; Secure Boot
   * firmware runs with SMM, which guards its variables. Default: SeaBIOS.
   */
  efi?: { code: string; vars: string; secureBoot: boolean };
}

/**
 * The QEMU command line of one lab guest, shaped like what virt-launcher runs: q35, virtio disks
 * (the containerDisk's overlay first, the cidata seed second), one virtio NIC on a tap in the lab's
 * bridge, virtio-rng, serial console to a file. `-nodefaults` and an explicit tap netdev mean QEMU
 * never adds its default user-mode (slirp) NIC, which would carry guest traffic out through the host.
 */
export function qemuArgs(input: QemuArgsInput): string[] {
  const args = [
    '-name',
    `guest=${input.name}`,
    '-nodefaults',
    '-no-user-config',
    '-machine',
    input.efi?.secureBoot ? 'q35,smm=on' : 'q35',
    ...acceleratorArgs(input.accelerator),
    '-smp',
    String(input.cpus),
    '-m',
    String(input.memoryMiB),
    '-display',
    'none',
    '-monitor',
    'none',
    '-qmp',
    `unix:${input.qmpSocket},server=on,wait=off`,
    '-serial',
    `file:${input.consoleLog}`,
    // The overlay is thrown away with the VM (an ephemeral containerDisk): no need to flush it.
    '-drive',
    `file=${input.overlay},if=none,id=disk0,format=qcow2,cache=unsafe,discard=unmap`,
    '-device',
    'virtio-blk-pci,drive=disk0,bootindex=1',
    '-drive',
    `file=${input.seedIso},if=none,id=cidata,format=raw,readonly=on`,
    '-device',
    'virtio-blk-pci,drive=cidata',
    '-netdev',
    `tap,id=n0,ifname=${input.tap},script=no,downscript=no`,
    '-device',
    `virtio-net-pci,netdev=n0,mac=${input.mac}`,
    '-device',
    'virtio-rng-pci',
  ];
  if (input.efi) {
    // As libvirt gives KubeVirt's `efi` VMs: OVMF as pflash.
    if (input.efi.secureBoot) args.push('-global', 'driver=cfi.pflash01,property=secure,value=on');
    args.push(
      '-drive',
      `if=pflash,format=raw,unit=0,readonly=on,file=${input.efi.code}`,
      '-drive',
      `if=pflash,format=raw,unit=1,file=${input.efi.vars}`,
    );
  }
  if (input.kernel) {
    args.push('-kernel', input.kernel.kernel);
    if (input.kernel.initrd) args.push('-initrd', input.kernel.initrd);
    args.push('-append', input.kernel.cmdline);
  }
  return args;
}
