import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidInputError } from '@breakfix/core';
import type { Accelerator } from './accelerator.js';
import { cleanupStack, guestHandle, untilStarted } from './guest-handle.js';
import { type LabNetwork, normalizeMac } from './lab-network.js';
import type { ManagedProcess } from './process.js';
import { qemuArgs } from './qemu-args.js';
import { queryStatus } from './qmp.js';
import { type NoCloudSeed, writeSeedIso } from './seed.js';
import { OVMF, requireOvmf, run, TOOLS } from './tools.js';

export interface GuestImage {
  /** Golden disk, raw or qcow2. Never written: each VM runs on its own qcow2 overlay. */
  disk: string;
  /** Direct kernel boot when given; otherwise the firmware boots the disk. */
  kernel?: string;
  initrd?: string;
  /** Kernel command line for direct kernel boot. Default `root=LABEL=root ro console=ttyS0`. */
  cmdline?: string;
  /** The same image as a raw disk, which container nodes boot (its partition labelled root). */
  raw?: string;
}

export interface BootOptions {
  network: LabNetwork;
  /** A DNS label, unique among this host's running VMs. */
  name: string;
  image: GuestImage;
  cpus: number;
  memoryMiB: number;
  seed: NoCloudSeed;
  /** Guest ports reachable on a loopback address of the root namespace (e.g. 127.77.0.5:22). */
  expose: { address: string; ports: readonly number[] };
  /** Default: a random locally administered 52:54:00:xx:xx:xx. */
  mac?: string;
  /** Default `bios`. */
  firmware?: Firmware;
  /**
   * `vm` (default): a QEMU guest. `container`: a container node, the same root file system booted
   * by systemd-nspawn on the host's kernel (docs/adr/0037); it needs `image.raw`.
   */
  node?: NodeBackend;
}

export type NodeBackend = 'vm' | 'container';

/**
 * The firmware, as KubeVirt's `domain.firmware.bootloader`: `bios` (SeaBIOS, KubeVirt's default),
 * `efi` (OVMF, `secureBoot: false`), which boots a disk from its EFI system partition, or
 * `efi-secure-boot` (OVMF with Microsoft's keys: `efi` without `secureBoot: false`), which starts
 * only signed boot loaders.
 */
export type Firmware = 'bios' | 'efi' | 'efi-secure-boot';
const FIRMWARES: readonly Firmware[] = ['bios', 'efi', 'efi-secure-boot'];

export interface Vm {
  readonly name: string;
  readonly pid: number;
  readonly mac: string;
  /** The address the lab's DHCP will lease to this VM (known before the guest asks). */
  readonly plannedAddress: string;
  /** Serial console, appended to while the guest runs; kept after stop. */
  readonly consoleLog: string;
  /** Resolves when the guest has actually been leased its address by DHCP. */
  address(timeoutMs?: number): Promise<string>;
  /** QEMU's exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Kills QEMU, closes the exposures, removes the tap, the lease and the overlay. Safe to call twice. */
  stop(): Promise<void>;
}

export interface VmContext {
  dir: string;
  logDir: string;
  accelerator: Accelerator;
  tap: string;
  log: (line: string) => void;
}

export async function bootVm(context: VmContext, options: BootOptions): Promise<Vm> {
  const { network, name, image } = options;
  validate(options);
  const { dir, tap } = context;
  const mac = normalizeMac(options.mac ?? randomMac());
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  mkdirSync(context.logDir, { recursive: true });
  const consoleLog = join(context.logDir, `${name}.console.log`);
  rmSync(consoleLog, { force: true });

  const cleanups = cleanupStack(`vm ${name}`, context.log);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

  try {
    const golden = resolve(image.disk);
    const info = JSON.parse(await run(TOOLS.qemuImg.path, ['info', '--output=json', golden])) as { format?: string };
    if (info.format !== 'raw' && info.format !== 'qcow2') {
      throw new InvalidInputError(`${golden} is ${info.format ?? 'of unknown format'}, not raw or qcow2`);
    }
    const overlay = join(dir, 'disk.qcow2');
    await run(TOOLS.qemuImg.path, ['create', '-q', '-f', 'qcow2', '-b', golden, '-F', info.format, overlay]);
    const seedIso = await writeSeedIso(dir, options.seed);
    // A fresh variable store per VM, as KubeVirt's non-persistent EFI starts each VMI from the template.
    const secureBoot = options.firmware === 'efi-secure-boot';
    const ovmf = secureBoot ? OVMF.secureBoot : OVMF.plain;
    const efi = options.firmware?.startsWith('efi')
      ? { code: ovmf.code, vars: join(dir, 'efi-vars.fd'), secureBoot }
      : undefined;
    if (efi) copyFileSync(ovmf.vars, efi.vars);

    const ns = network.namespace;
    await ns.run(TOOLS.ip.path, ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    cleanups.push(() => ns.run(TOOLS.ip.path, ['link', 'delete', tap]).then(() => undefined));
    await ns.run(TOOLS.ip.path, ['link', 'set', tap, 'mtu', String(network.mtu), 'master', network.bridge, 'up']);

    const plannedAddress = network.addHost(name, mac);
    cleanups.push(() => network.removeHost(mac));

    const qmpSocket = join(dir, 'qmp.sock');
    const args = qemuArgs({
      name,
      accelerator: context.accelerator,
      cpus: options.cpus,
      memoryMiB: options.memoryMiB,
      overlay,
      seedIso,
      tap,
      mac,
      consoleLog,
      qmpSocket,
      ...(efi ? { efi } : {}),
      ...(image.kernel
        ? {
            kernel: {
              kernel: resolve(image.kernel),
              ...(image.initrd ? { initrd: resolve(image.initrd) } : {}),
              cmdline: withPanicReboot(image.cmdline ?? 'root=LABEL=root ro console=ttyS0'),
            },
          }
        : {}),
    });
    const qemu: ManagedProcess = ns.spawn(
      `qemu-${name}`,
      TOOLS.qemu.path,
      args,
      join(context.logDir, `${name}.qemu.log`),
    );
    cleanups.push(() => qemu.stop(5_000));
    context.log(`vm ${name}: qemu pid ${qemu.pid}, mac ${mac}, will lease ${plannedAddress} on ${network.id}`);

    await untilStarted({
      process: qemu,
      what: `qemu for ${name} to build its machine`,
      ready: async () => (existsSync(qmpSocket) ? queryStatus(qmpSocket, 5_000) : undefined),
      exited: (code) => `qemu for ${name} exited with ${code} while starting: ${tail(qemu.logFile)}`,
    });

    return await guestHandle({
      label: `vm ${name}`,
      options,
      network,
      process: qemu,
      mac,
      plannedAddress,
      consoleLog,
      logDir: context.logDir,
      cleanups,
      log: context.log,
    });
  } catch (error) {
    await cleanups.run();
    throw error;
  }
}

function validate(options: BootOptions): void {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(options.name)) {
    throw new InvalidInputError(`VM name ${JSON.stringify(options.name)} is not a DNS label`);
  }
  if (!Number.isInteger(options.cpus) || options.cpus < 1) throw new InvalidInputError(`cpus ${options.cpus} < 1`);
  if (!Number.isInteger(options.memoryMiB) || options.memoryMiB < 64) {
    throw new InvalidInputError(`memoryMiB ${options.memoryMiB} < 64`);
  }
  if (options.firmware !== undefined && !FIRMWARES.includes(options.firmware)) {
    throw new InvalidInputError(`firmware ${JSON.stringify(options.firmware)} is not one of ${FIRMWARES.join(', ')}`);
  }
  if (options.firmware?.startsWith('efi')) requireOvmf();
  for (const path of [options.image.disk, options.image.kernel, options.image.initrd]) {
    if (path !== undefined && !existsSync(path)) throw new InvalidInputError(`${path} does not exist`);
  }
  for (const port of options.expose.ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidInputError(`port ${port} is invalid`);
  }
}

/** 52:54:00 is QEMU's prefix; KubeVirt's bridge binding hands the pod's MAC over, we have no pod. */
function randomMac(): string {
  return ['52', '54', '00', ...[...randomBytes(3)].map((byte) => byte.toString(16).padStart(2, '0'))].join(':');
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return `(no log at ${file})`;
  }
}

/**
 * A guest kernel that panics reboots itself after 10 s, as a VM on a hypervisor is expected to,
 * instead of hanging until a deadline. Under multi-threaded TCG a 2-vCPU guest now and then dies
 * in early boot ("Oops: int3" in sched_clock_cpu while the kernel patches its own code); a reboot
 * boots it again with the same disk. The image's own cmdline wins when it sets `panic=`.
 */
export function withPanicReboot(cmdline: string): string {
  return /(^|\s)panic=/.test(cmdline) ? cmdline : `${cmdline} panic=10`;
}
