import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { UnsupportedEnvironmentError } from '@breakfix/core';
import { createKube, type Kube } from '@breakfix/kube';
import { createQemuHost, type ManagedProcess, type QemuHost } from '@breakfix/qemu';
import type { SandboxInfo } from '@breakfix/testkit';
import { type Binaries, resolveBinaries } from './binaries.js';
import { startControlPlane } from './control-plane.js';
import { installCrds, loadKubevirtCrds } from './crds/install.js';
import { type AddressPrefix, claimAddressPrefix } from './ports.js';
import { createNodePortProxy, type NodePortProxy } from './proxy/node-port-proxy.js';
import { startRedis } from './redis.js';
import { BUSYBOX, SSHD } from './virt/guest.js';
import { guestInitBinary } from './virt/guest-init.js';
import { nodeImageResolver } from './virt/node-images.js';
import { defaultNodes } from './virt/nodes.js';
import { createPodNetwork } from './virt/pod-network.js';
import { createQemuGuests, type ImageResolver } from './virt/qemu-guests.js';
import { createVirtSimulator, type VirtSimulator } from './virt/simulator.js';
import { parseVmBackend, type VmBackend } from './virt/vm-objects.js';

export interface SandboxOptions {
  /** Working directory (data, kubeconfig, logs). Default: a new temporary directory. */
  dir?: string;
  /** Keep `dir` after stop() (logs for a failed run). Default false for a temporary dir. */
  keepDir?: boolean;
  binaries?: Binaries;
  /** Default 10.96.0.0/16. */
  serviceCidr?: string;
  /** Default 30000-32767, as in a stock cluster. */
  nodePortRange?: string;
  /** Run the virt simulator (needs root: one sshd per VM). Default true. */
  simulator?: boolean;
  /** Boot delay of simulated VMs without their own annotation. Default 0. */
  defaultBootDelayMs?: number;
  /**
   * How VMs run: `process` (a simulated guest: an sshd), `qemu` (a real guest from the golden
   * image, packages/qemu) or `container` (a container node of that image, docs/adr/0037). A VM's
   * `sim.breakfix.dev/backend` annotation overrides it. Default: BREAKFIX_VMS, else `process`.
   */
  vms?: VmBackend;
  /** Where QEMU guests find their golden image. Default: what images/build.sh built. */
  resolveImage?: ImageResolver;
  startTimeoutMs?: number;
  onProgress?: (line: string) => void;
}

export interface Sandbox {
  dir: string;
  kubeconfig: string;
  apiServerUrl: string;
  adminToken: string;
  redisUrl: string;
  kube: Kube;
  simulator: VirtSimulator | undefined;
  /** PEM bundle that verifies the apiserver. */
  caPem: string;
  /** etcd, kube-apiserver, kube-controller-manager, redis-server (guests' sshds are the simulator's). */
  managed: readonly ManagedProcess[];
  /** Writes a kubeconfig for another identity (a ServiceAccount token, say). */
  writeKubeconfig(path: string, user: string, token: string): string;
  info(): SandboxInfo;
  stop(): Promise<void>;
}

/**
 * Starts the local substrate: etcd + kube-apiserver + kube-controller-manager with KubeVirt's CRDs
 * Established, a redis-server, and the virt simulator. Everything listens on loopback only and
 * dies with this process (see process.ts).
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const progress = options.onProgress ?? (() => {});
  const simulate = options.simulator ?? true;
  checkHost(simulate);
  const temporary = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'breakfix-sandbox-'));
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const processes: ManagedProcess[] = [];
  let simulator: VirtSimulator | undefined;
  let nodePorts: NodePortProxy | undefined;
  let qemuHost: Promise<QemuHost> | undefined;
  let addressPrefix: AddressPrefix | undefined;
  // sshd only chroots into paths whose every component is root-owned and not writable by others.
  const guestsDir = join(GUESTS_ROOT, `${process.pid}-${basename(dir)}-${randomBytes(3).toString('hex')}`);
  if (simulate) removeStaleGuests();

  const stop = async () => {
    await nodePorts?.stop();
    await simulator?.stop();
    await (await qemuHost?.catch(() => undefined))?.stop();
    for (const process of [...processes].reverse()) await process.stop();
    await addressPrefix?.release();
    rmSync(guestsDir, { recursive: true, force: true });
    if (temporary && !options.keepDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const binaries = options.binaries ?? (await resolveBinaries({ onProgress: progress }));
    progress('starting etcd, kube-apiserver and redis-server');
    const [controlPlane, redis] = await Promise.all([
      startControlPlane({
        binaries,
        dir,
        serviceCidr: options.serviceCidr ?? '10.96.0.0/16',
        nodePortRange: options.nodePortRange ?? '30000-32767',
        startTimeoutMs,
      }).then((cp) => {
        processes.push(...cp.processes);
        return cp;
      }),
      startRedis({ dir, startTimeoutMs }).then((r) => {
        processes.push(r.process);
        return r;
      }),
    ]);
    const kubeconfig = join(dir, 'admin.kubeconfig');
    const kube = createKube({ kubeconfig });
    progress('installing KubeVirt CRDs');
    await installCrds(kube, loadKubevirtCrds(), startTimeoutMs);
    // After the CRDs, so that its quota controller counts VirtualMachines from the start.
    processes.push(controlPlane.startControllerManager());

    if (simulate) {
      mkdirSync(guestsDir, { recursive: true, mode: 0o755 });
      addressPrefix = await claimAddressPrefix();
      const vms = options.vms ?? parseVmBackend(process.env.BREAKFIX_VMS, 'BREAKFIX_VMS');
      // Made on the first real guest: a sandbox of simulated guests needs no QEMU installed.
      const qemuDir = join(dir, 'qemu');
      const host = () => {
        qemuHost ??= createQemuHost({ dir: qemuDir, log: (line) => progress(`[qemu] ${line}`) });
        return qemuHost;
      };
      // Launcher pods get addresses of a pod network nothing routes (ADR 0031); the nodes get
      // loopback addresses of this sandbox's own /16, where its kube-proxy serves NodePorts.
      const podNetwork = createPodNetwork();
      const nodes = defaultNodes(addressPrefix.prefix);
      simulator = createVirtSimulator({
        kube: createKube({ kubeconfig, fieldManager: 'virt-controller' }),
        guestsDir,
        addressPrefix: addressPrefix.prefix,
        nodes,
        podNetwork,
        defaultBootDelayMs: options.defaultBootDelayMs ?? 0,
        qemu: {
          guests: createQemuGuests({
            host,
            kube: createKube({ kubeconfig, fieldManager: 'virt-handler' }),
            resolveImage: options.resolveImage ?? nodeImageResolver(),
            log: (line) => progress(`[qemu] ${line}`),
          }),
          default: vms,
        },
        log: (line) => progress(`[virt] ${line}`),
      });
      await simulator.start();
      nodePorts = createNodePortProxy({
        kube,
        nodes: nodes.map((node) => ({ name: node.name, addresses: [node.internalIP, node.externalIP] })),
        exposureOf: podNetwork.exposureOf,
        log: (line) => progress(`[kube-proxy] ${line}`),
      });
      await nodePorts.start();
    }

    const info: SandboxInfo = {
      kubeconfig,
      apiServerUrl: controlPlane.url,
      adminToken: controlPlane.adminToken,
      redisUrl: redis.url,
      dir,
      guestsDir,
      pid: process.pid,
      processes: processes.map((p) => ({ name: p.name, pid: p.pid })),
    };
    return {
      dir,
      kubeconfig,
      apiServerUrl: info.apiServerUrl,
      adminToken: info.adminToken,
      redisUrl: info.redisUrl,
      kube,
      simulator,
      caPem: controlPlane.caPem,
      managed: processes,
      writeKubeconfig: controlPlane.writeKubeconfig,
      info: () => ({
        ...info,
        processes: [
          ...info.processes,
          ...(simulator?.guests().map((g) => ({ name: `sshd ${g.namespace}/${g.name}`, pid: g.pid })) ?? []),
        ],
      }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

const GUESTS_ROOT = '/run/breakfix-sandbox';

/** Guest directories of sandboxes whose process died without stop() (SIGKILL) are removed. */
function removeStaleGuests(): void {
  if (!existsSync(GUESTS_ROOT)) return;
  for (const entry of readdirSync(GUESTS_ROOT)) {
    const pid = Number(entry.split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && !isAlive(pid))
      rmSync(join(GUESTS_ROOT, entry), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function checkHost(simulate: boolean): void {
  const missing: string[] = [];
  if (!onPath('redis-server')) missing.push('redis-server');
  if (simulate) {
    if (!existsSync(SSHD)) missing.push('openssh-server');
    if (!existsSync(BUSYBOX)) missing.push('busybox-static');
  }
  if (missing.length > 0) {
    throw new UnsupportedEnvironmentError(`missing Debian packages: ${missing.join(', ')}`, {
      hint: `run \`npm run deps\` (as root) or \`apt-get install ${missing.join(' ')}\``,
    });
  }
  if (simulate && process.getuid?.() !== 0) {
    throw new UnsupportedEnvironmentError(
      'the virt simulator needs root: each simulated VM is an sshd on port 22 of its own loopback address, in namespaces of its own',
      {
        hint: 'run as root (a container or VM of your own works), or start the sandbox with simulator: false',
      },
    );
  }
  if (simulate) {
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    // Built (once per source) now rather than at the first boot, where it would stall the simulator.
    guestInitBinary();
  }
}

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
