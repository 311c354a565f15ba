import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConflictError, InvalidInputError } from '@breakfix/core';
import { type Accelerator, type AcceleratorChoice, chooseAccelerator, parseAcceleratorChoice } from './accelerator.js';
import { bootContainerNode, sweepNodeCgroups } from './container-node.js';
import { createLabNetwork, type LabNetwork, type LabNetworkOptions } from './lab-network.js';
import { requireTools } from './tools.js';
import { type BootOptions, bootVm, type Vm } from './vm.js';

export interface QemuHostOptions {
  /** Working directory: overlays, seeds, sockets, logs. Keep it short (unix socket paths live here). */
  dir: string;
  /** Receives one line per lifecycle event. Default: silent. */
  log?: (line: string) => void;
  /** Default: BREAKFIX_QEMU_ACCEL when set, else `auto` (KVM only when it runs stock kernels). */
  accel?: AcceleratorChoice;
}

/**
 * Runs real lab guests: one anonymous network namespace per lab network, QEMU inside it (or, for a
 * node booted as a container node, systemd-nspawn beside it on a veth). It runs guests and nothing more; what KubeVirt would do (phases, conditions, refusals) is the simulator's.
 */
export interface QemuHost {
  readonly accelerator: Accelerator;
  readonly dir: string;
  network(id: string, options: LabNetworkOptions): Promise<LabNetwork>;
  boot(options: BootOptions): Promise<Vm>;
  /** Stops every VM and lab network this host started and removes their files. Safe to call twice. */
  stop(): Promise<void>;
}

const MAX_NETWORKS = 256; // 10.200.0.0/24 .. 10.200.255.0/24

export async function createQemuHost(options: QemuHostOptions): Promise<QemuHost> {
  requireTools();
  const dir = resolve(options.dir);
  const log = options.log ?? (() => {});
  const accelerator = chooseAccelerator(options.accel ?? parseAcceleratorChoice(process.env.BREAKFIX_QEMU_ACCEL));
  mkdirSync(dir, { recursive: true });
  log(`qemu host in ${dir}, accelerator ${accelerator}`);

  const networks = new Map<string, LabNetwork>();
  const vms = new Map<string, { vm: Vm; network: LabNetwork }>();
  let nextNetwork = 0;
  let nextTap = 0;
  let swept = false; // container nodes' leftover cgroups, once, before this host's first node
  let stopping: Promise<void> | undefined;

  const assertRunning = () => {
    if (stopping) throw new ConflictError('this QEMU host is stopping');
  };

  return {
    accelerator,
    dir,
    async network(id, networkOptions) {
      assertRunning();
      if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(id)) {
        throw new InvalidInputError(`lab network id ${JSON.stringify(id)} is not a DNS label`);
      }
      if (networks.has(id)) throw new ConflictError(`lab network ${id} exists`);
      if (nextNetwork >= MAX_NETWORKS) throw new ConflictError(`this host has made ${MAX_NETWORKS} lab networks`);
      const network = await createLabNetwork(
        { id, index: nextNetwork++, dir: join(dir, 'net', id), log },
        networkOptions,
      );
      networks.set(id, network);
      const close = network.close;
      return Object.assign(network, {
        close: async () => {
          const guests = [...vms.values()].filter((entry) => entry.network === network);
          await Promise.allSettled(guests.map((entry) => entry.vm.stop()));
          networks.delete(id);
          await close();
        },
      });
    },
    async boot(bootOptions) {
      assertRunning();
      if (vms.has(bootOptions.name)) throw new ConflictError(`VM ${bootOptions.name} is running`);
      if (networks.get(bootOptions.network.id) !== bootOptions.network) {
        throw new InvalidInputError(`lab network ${bootOptions.network.id} is not one of this host's`);
      }
      const vmDir = join(dir, 'vm', bootOptions.name);
      const link = `tap${nextTap++}`;
      if (bootOptions.node === 'container' && !swept) {
        swept = true;
        await sweepNodeCgroups(log).catch((error: unknown) => log(`cgroup sweep failed: ${(error as Error).message}`));
      }
      const vm =
        bootOptions.node === 'container'
          ? await bootContainerNode({ dir: vmDir, logDir: join(dir, 'log'), link, log }, bootOptions)
          : await bootVm({ dir: vmDir, logDir: join(dir, 'log'), accelerator, tap: link, log }, bootOptions);
      vms.set(bootOptions.name, { vm, network: bootOptions.network });
      vm.exited.finally(() => {
        if (vms.get(vm.name)?.vm === vm) vms.delete(vm.name);
      });
      return vm;
    },
    stop() {
      stopping ??= (async () => {
        await Promise.allSettled([...vms.values()].map((entry) => entry.vm.stop()));
        await Promise.allSettled([...networks.values()].map((network) => network.close()));
        rmSync(join(dir, 'vm'), { recursive: true, force: true });
        rmSync(join(dir, 'net'), { recursive: true, force: true });
        log('qemu host stopped');
      })();
      return stopping;
    },
  };
}
