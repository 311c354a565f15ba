import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { IMAGE_PATHS } from '@breakfix/cloud-init';
import { assertNever, DeadlineExceededError, InvalidInputError, UpstreamError } from '@breakfix/core';
import type { Kube, KubeObject } from '@breakfix/kube';
import { parseGuestIdentity } from './cloud-config.js';
import { bootGuest } from './guest.js';
import { LAUNCHER_LABEL, launcherPod, UNPAUSED_CONDITION } from './launcher-pod.js';
import {
  defaultNodes,
  NODE_OCTETS,
  type PodForScheduling,
  registerNodes,
  type SimulatedNode,
  schedule,
} from './nodes.js';
import { createPodNetwork, type PodNetwork } from './pod-network.js';
import type { createQemuGuests, QemuGuest } from './qemu-guests.js';
import {
  decide,
  firstRequestDone,
  isFinal,
  nextStartFailure,
  restingPrintableStatus,
  runStrategyOf,
  type StartBackoff,
  VM_CONTROLLER_FINALIZER,
  VMI_FINALIZER,
} from './vm-controller.js';
import {
  ANNOTATION_BACKEND,
  type Faults,
  faultsOf,
  readUserData,
  type VirtualMachine,
  type VirtualMachineInstance,
  type VmBackend,
  vmiFor,
} from './vm-objects.js';

export interface SimulatorOptions {
  /** A Kube port whose field manager names the writer (we use `virt-controller`). */
  kube: Kube;
  /** Root-owned directory under which each guest gets its file system. */
  guestsDir: string;
  /** First two octets of the loopback addresses handed to guests, e.g. `127.77`. */
  addressPrefix: string;
  /** Port each guest's sshd listens on. Default 22. */
  sshPort?: number;
  /** Boot delay for VMs without a `sim.breakfix.dev/boot-delay-ms` annotation. Default 0. */
  defaultBootDelayMs?: number;
  /**
   * How long after Running the `default` interface's address is reported, for VMs without a
   * `sim.breakfix.dev/address-delay-ms` annotation. Default 250 ms: KubeVirt reports the address
   * after the domain runs, so code that reads it at Running must see none.
   */
  defaultAddressDelayMs?: number;
  /** The start-failure back-off (KubeVirt's constants by default: 10 s x failures², at most 300 s). */
  startBackoff?: StartBackoff;
  /** The host nodes launcher pods are scheduled on. Default: defaultNodes() (three large ones). */
  nodes?: readonly SimulatedNode[];
  /**
   * Where launcher pods get their `podIP`, mapped to their guests' loopback addresses (what the
   * sandbox's kube-proxy forwards to). Default: a pod network of its own on 10.244.0.0/16.
   */
  podNetwork?: PodNetwork;
  /**
   * Real guests: VMs whose `sim.breakfix.dev/backend` annotation says `qemu` (or every VM, with
   * `default: 'qemu'`) boot under QEMU from the golden image instead of as an sshd.
   */
  qemu?: { guests: ReturnType<typeof createQemuGuests>; default: VmBackend };
  log?: (message: string) => void;
}

export interface GuestInfo {
  namespace: string;
  name: string;
  address: string;
  port: number;
  root: string;
  /** The sshd serving this guest, or its QEMU. */
  pid: number;
  /** A QEMU guest's own address in its lab network (the loopback `address` forwards SSH to it). */
  guestAddress?: string;
  /** Its launcher pod's `status.podIP`, which nothing dials (ADR 0031). */
  podAddress?: string;
}

export interface VirtSimulator {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Guests whose sshd currently runs. */
  guests(): GuestInfo[];
}

/** What the simulator needs of a running guest, whichever backend runs it. */
interface RunningGuest {
  address: string;
  port: number;
  /** The simulated guest's root directory; empty for a QEMU guest. */
  root: string;
  pid: number;
  /** A QEMU guest's own address in its lab network, once leased. */
  guestAddress?: string;
  stop(): Promise<void>;
}

interface Boot {
  uid: string;
  controller: AbortController;
  guest?: RunningGuest;
  /** The VMI's virt-launcher pod, once created. */
  pod?: LauncherPod;
  /** The phases this boot reported, with when (`status.phaseTransitionTimestamps`). */
  transitions: { phase: string; phaseTransitionTimestamp: string }[];
  done: Promise<void>;
}

interface LauncherPod {
  namespace: string;
  name: string;
  uid: string;
  /** Whether the VMI has a readiness probe: then the pod is Ready only once the guest answers. */
  probed: boolean;
  /** What the scheduler reads: its containers' requests and its nodeSelector. */
  spec: PodForScheduling['spec'];
  nodeName?: string;
  hostIP?: string;
  /** Its address on the pod network, and the guest's loopback address that address maps to. */
  podIP?: string;
  exposure?: string;
  startTime?: string;
}

/**
 * Plays virt-controller and virt-handler against a real apiserver: for each VirtualMachine it
 * creates and stops the VirtualMachineInstances its runStrategy and start/stop requests ask for
 * (vm-controller.ts), moves each through Pending -> Scheduling -> Scheduled -> Running, one update
 * each, reports the guest's address (after Running), node and conditions, holds VMIs and VMs by
 * KubeVirt's finalizers until their guests stopped, and keeps VM status (`printableStatus`,
 * `ready`, `created`, `runStrategy`, `startFailure`) in step (ADR 0024). A Running guest is a real sshd
 * (see guest.ts). Faults come from annotations on the VM, so any process can inject them:
 *   sim.breakfix.dev/boot-delay-ms: "1500"
 *   sim.breakfix.dev/fault: unschedulable | no-ssh | bootstrap-fails | fails-to-start
 *   sim.breakfix.dev/crash-after-ms: "3000"   (the VMI fails)
 *   sim.breakfix.dev/poweroff-after-ms: "3000" (the VMI succeeds)
 *   sim.breakfix.dev/address-delay-ms: "1500"  (the address comes this long after Running)
 *   sim.breakfix.dev/guest-agent: "true"       (the guest has an agent: AgentConnected)
 */
export function createVirtSimulator(options: SimulatorOptions): VirtSimulator {
  const { guestsDir, addressPrefix } = options;
  const kube = retryingTransientErrors(options.kube);
  const sshPort = options.sshPort ?? 22;
  const nodes = options.nodes ?? defaultNodes(addressPrefix);
  const podNetwork = options.podNetwork ?? createPodNetwork();
  const defaultAddressDelayMs = options.defaultAddressDelayMs ?? 250;
  /** Reconciles queued for later (a back-off's end, a retry), by key: cleared on stop. */
  const timers = new Map<string, NodeJS.Timeout>();
  const failures = new Map<string, number>();
  const log = options.log ?? (() => {});
  const boots = new Map<string, Boot>();
  const queues = new Map<string, Promise<void>>();
  const watches: { stop(): void }[] = [];
  let nextAddress = 1;
  let stopped = false;
  let heartbeats: { stop(): void } | undefined;
  /**
   * The pods bound to nodes and still running, by uid: what the scheduler counts against each
   * node's allocatable. Only this simulator binds pods here; filled from the apiserver at start,
   * and reserved synchronously before a binding, so two pods never take the same room.
   */
  const bound = new Map<string, PodForScheduling>();

  const keyOf = (object: KubeObject) => `${object.metadata.namespace}/${object.metadata.name}`;

  function enqueue(key: string, work: () => Promise<void>): void {
    const previous = queues.get(key) ?? Promise.resolve();
    const next = previous
      .then(work)
      .then(() => void failures.delete(key))
      .catch(async (error: unknown) => {
        // As a controller's work queue: try again later. A namespace being deleted refuses new
        // objects, but its VMIs still wait for us to remove their finalizers.
        const count = (failures.get(key) ?? 0) + 1;
        failures.set(key, count);
        if (count <= 30) later(key, Math.min(500 * count, 5_000));
        if (!(await namespaceExists(key.split('/')[0] ?? ''))) return;
        log(`reconcile ${key} failed: ${(error as Error).message}`);
      })
      .finally(() => {
        if (queues.get(key) === next) queues.delete(key);
      });
    queues.set(key, next);
  }

  /** Reconciles `key` again after `ms` (once, however often asked before then). */
  function later(key: string, ms: number): void {
    if (stopped || timers.has(key)) return;
    const [namespace = '', name = ''] = key.split('/');
    const timer = setTimeout(() => {
      timers.delete(key);
      enqueue(key, () => reconcile(namespace, name));
    }, ms);
    timer.unref();
    timers.set(key, timer);
  }

  async function namespaceExists(namespace: string): Promise<boolean> {
    const found = await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: namespace }).catch(() => undefined);
    return found !== undefined && found.metadata.deletionTimestamp === undefined;
  }

  function allocateAddress(): string {
    for (;;) {
      const n = nextAddress++;
      const [c, d] = [(n >> 8) & 255, n & 255];
      // The nodes' addresses take the top of the /16.
      if (d !== 0 && d !== 255 && c < Math.min(NODE_OCTETS.internal, NODE_OCTETS.external))
        return `${addressPrefix}.${c}.${d}`;
    }
  }

  /**
   * One pass of virt-controller (the VM and VMI controllers) and virt-handler for the VM and VMI
   * named `name`: an instance being deleted is stopped and let go; the VM's runStrategy and state
   * change requests decide whether an instance is started or stopped.
   */
  async function reconcile(namespace: string, name: string): Promise<void> {
    if (stopped) return;
    const key = `${namespace}/${name}`;
    const vm = await kube.get<VirtualMachine>(vmRef(namespace, name));
    let vmi = await kube.get<VirtualMachineInstance>(vmiRef(namespace, name));
    if (vmi !== undefined) vmi = await handleInstance(key, vmi);
    if (vm === undefined) {
      // A VMI whose VM is gone (created before the VM had our finalizer): the garbage collector's work.
      if (vmi !== undefined && vmi.metadata.deletionTimestamp === undefined) await kube.delete(vmiRef(namespace, name));
      return;
    }
    if (vm.metadata.deletionTimestamp !== undefined) {
      // The VM controller stops the instance first and lets the VM go once it is gone.
      if (vmi === undefined) await dropFinalizers(vmRef(namespace, name), vm, [VM_CONTROLLER_FINALIZER]);
      else if (vmi.metadata.deletionTimestamp === undefined) await kube.delete(vmiRef(namespace, name));
      return;
    }
    if (!(vm.metadata.finalizers ?? []).includes(VM_CONTROLLER_FINALIZER)) {
      const current = vm.metadata.finalizers ?? [];
      await kube.patch(vmRef(namespace, name), [
        current.length === 0
          ? { op: 'add', path: '/metadata/finalizers', value: [VM_CONTROLLER_FINALIZER] }
          : { op: 'add', path: '/metadata/finalizers/-', value: VM_CONTROLLER_FINALIZER },
      ]);
    }

    const now = Date.now();
    const synced = await syncVmStatus(vm, vmi, now);
    if (vmi !== undefined && isFinal(vmi) && vmi.metadata.deletionTimestamp === undefined) {
      // The VM controller lets go of a final VMI once it has recorded it on the VM.
      vmi = await dropFinalizers(vmiRef(namespace, name), vmi, [VM_CONTROLLER_FINALIZER]);
    }
    const decision = decide(synced, vmi, now);
    switch (decision.kind) {
      case 'start': {
        await shutdown(key);
        const created = await kube.apply(vmiFor(synced));
        startBoot(key, synced, created);
        return;
      }
      case 'stop':
        if (vmi !== undefined) await kube.delete(vmiRef(namespace, name));
        if (decision.thenStart) {
          await kube.patchStatus(vmRef(namespace, name), {
            stateChangeRequests: [...(synced.status?.stateChangeRequests ?? []), { action: 'Start' }],
          });
        }
        break;
      case 'set-always':
        // virt-controller's answer to a start request on a Halted VM.
        await kube.patch(vmRef(namespace, name), [
          { op: 'test', path: '/spec/runStrategy', value: 'Halted' },
          { op: 'replace', path: '/spec/runStrategy', value: 'Always' },
        ]);
        break;
      case 'wait':
        later(key, decision.ms);
        break;
      case 'none':
        break;
      default:
        assertNever(decision);
    }
    if (vmi !== undefined && !isFinal(vmi) && vmi.metadata.deletionTimestamp === undefined) {
      // A VMI we did not boot (the simulator restarted): boot it again; its disk is gone anyway.
      if (boots.get(key)?.uid !== vmi.metadata.uid) startBoot(key, synced, vmi);
      return;
    }
    await setVmStatus(synced, {
      printableStatus: restingPrintableStatus(synced, vmi),
      ready: false,
      created: vmi !== undefined,
    });
  }

  /**
   * virt-handler and the VMI controller for an instance that is deleted or ended: the guest is
   * stopped, the VMI reports how it ended, its launcher pods are deleted, and only once they are
   * gone are the finalizers removed, so a namespace being deleted waits for all of it, as on
   * KubeVirt. Returns the VMI as it is now (undefined once gone).
   */
  async function handleInstance(key: string, vmi: VirtualMachineInstance): Promise<VirtualMachineInstance | undefined> {
    const ref = vmiRef(vmi.metadata.namespace ?? '', vmi.metadata.name);
    if (vmi.metadata.deletionTimestamp === undefined) return vmi;
    if (boots.get(key)?.uid === vmi.metadata.uid) await shutdown(key);
    if (!isFinal(vmi)) {
      // A guest shut down gracefully has Succeeded; one that never ran has failed to.
      const ran = vmi.status?.phase === 'Running';
      await setVmiStatus(vmi, {
        phase: ran ? 'Succeeded' : 'Failed',
        phaseTransitionTimestamps: [
          ...(vmi.status?.phaseTransitionTimestamps ?? []),
          { phase: ran ? 'Succeeded' : 'Failed', phaseTransitionTimestamp: new Date().toISOString() },
        ],
        conditions: [condition('Ready', 'False', 'PodTerminating', 'the VMI is being deleted')],
      });
    }
    const pods = await kube.list<KubeObject>('v1', 'Pod', {
      namespace: vmi.metadata.namespace ?? '',
      labelSelector: `kubevirt.io/created-by=${vmi.metadata.uid ?? ''}`,
    });
    for (const pod of pods) {
      if (pod.metadata.deletionTimestamp === undefined) {
        await kube.delete({
          apiVersion: 'v1',
          kind: 'Pod',
          namespace: pod.metadata.namespace,
          name: pod.metadata.name,
        });
      }
    }
    // The pods' deletion (our kubelet ends it) queues this again; then the finalizers go.
    if (pods.length > 0) return vmi;
    return await dropFinalizers(ref, vmi, [VM_CONTROLLER_FINALIZER, VMI_FINALIZER, 'foregroundDeleteVirtualMachine']);
  }

  /**
   * Removes `drop` from the object's finalizers with a JSON patch that tests the list it read, as
   * KubeVirt's controllers do; a list changed meanwhile is read again on the next pass.
   */
  async function dropFinalizers<T extends KubeObject>(
    ref: { apiVersion: string; kind: string; namespace: string; name: string },
    object: T,
    drop: readonly string[],
  ): Promise<T | undefined> {
    const current = object.metadata.finalizers ?? [];
    const kept = current.filter((finalizer) => !drop.includes(finalizer));
    if (kept.length === current.length) return object;
    try {
      return await kube.patch<T>(ref, [
        { op: 'test', path: '/metadata/finalizers', value: current },
        { op: 'replace', path: '/metadata/finalizers', value: kept },
      ]);
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      later(`${ref.namespace}/${ref.name}`, 200);
      return object;
    }
  }

  /**
   * The VM controller's status bookkeeping before it decides: start failures counted (and the
   * back-off's end), the first state change request trimmed once acted on, `status.runStrategy`
   * recorded once the VM has had an instance. Returns the VM with that status.
   */
  async function syncVmStatus(
    vm: VirtualMachine,
    vmi: VirtualMachineInstance | undefined,
    now: number,
  ): Promise<VirtualMachine> {
    const patch: Record<string, unknown> = {};
    const failure = nextStartFailure(vm, vmi, now, options.startBackoff);
    if (failure !== undefined) patch.startFailure = failure;
    if (firstRequestDone(vm, vmi)) {
      const rest = (vm.status?.stateChangeRequests ?? []).slice(1);
      patch.stateChangeRequests = rest.length === 0 ? null : rest;
    }
    const strategy = runStrategyOf(vm);
    if ((vm.status?.runStrategy !== undefined || vm.status?.created === true) && vm.status?.runStrategy !== strategy) {
      patch.runStrategy = strategy;
    }
    if (Object.keys(patch).length === 0) return vm;
    if (failure)
      log(`${keyOf(vm)}: start failure ${failure.consecutiveFailCount}, retry after ${failure.retryAfterTimestamp}`);
    await kube.patchStatus(vmRef(vm.metadata.namespace ?? '', vm.metadata.name), patch);
    const status = { ...vm.status, ...patch } as Record<string, unknown>;
    for (const [field, value] of Object.entries(status)) if (value === null) delete status[field];
    return { ...vm, status: status as VirtualMachine['status'] };
  }

  function startBoot(key: string, vm: VirtualMachine, vmi: VirtualMachineInstance): void {
    if (stopped) return; // a reconcile that was under way when the simulator stopped
    const controller = new AbortController();
    const boot: Boot = { uid: vmi.metadata.uid ?? '', controller, done: Promise.resolve(), transitions: [] };
    boot.done = runBoot(boot, vm, vmi).catch(async (error: unknown) => {
      if (controller.signal.aborted) return;
      // As when virt-launcher dies: the VMI fails, and the VM's runStrategy decides what follows.
      log(`boot of ${key} failed: ${(error as Error).message}`);
      await boot.guest?.stop();
      try {
        await endPod(boot.pod, 'Failed');
        await setVmiStatus(vmi, {
          phase: 'Failed',
          phaseTransitionTimestamps: [
            ...boot.transitions,
            { phase: 'Failed', phaseTransitionTimestamp: new Date().toISOString() },
          ],
          conditions: [condition('Ready', 'False', 'BootFailed', (error as Error).message.slice(0, 200))],
        });
        enqueue(key, () => reconcile(vm.metadata.namespace ?? '', vm.metadata.name));
      } catch (reportError) {
        log(`could not report the failed boot of ${key}: ${(reportError as Error).message}`);
      }
    });
    boots.set(key, boot);
  }

  async function runBoot(boot: Boot, vm: VirtualMachine, vmi: VirtualMachineInstance): Promise<void> {
    const { signal } = boot.controller;
    const faults = faultsOf(vm);
    const namespace = vm.metadata.namespace ?? '';
    const name = vm.metadata.name;
    const transitions = boot.transitions;
    const phase = async (value: string, extra: Record<string, unknown> = {}) => {
      signal.throwIfAborted();
      transitions.push({ phase: value, phaseTransitionTimestamp: new Date().toISOString() });
      await setVmiStatus(vmi, { phase: value, phaseTransitionTimestamps: [...transitions], ...extra });
    };

    await setVmStatus(vm, { printableStatus: 'Starting', ready: false, created: true });
    await phase('Pending');
    // virt-controller: the launcher pod, through the apiserver's admission (quota, limits, Pod Security).
    const pod = await createLauncherPod(vm, vmi, signal);
    boot.pod = pod;
    await phase('Scheduling');
    if (faults.fault === 'unschedulable') {
      const message = '0/3 nodes are available (simulated fault)';
      await setPodStatus(pod, { conditions: [condition('PodScheduled', 'False', 'Unschedulable', message)] });
      await setVmiStatus(vmi, {
        phase: 'Scheduling',
        phaseTransitionTimestamps: [...transitions],
        conditions: [condition('PodScheduled', 'False', 'Unschedulable', message)],
      });
      await setVmStatus(vm, { printableStatus: 'ErrorUnschedulable', ready: false, created: true });
      return;
    }
    // kube-scheduler: a node with room for the pod, or Unschedulable until one has.
    const nodeName = await scheduleLauncherPod(vm, vmi, pod, transitions, signal);
    // kubelet: the pod's volumes, including the cloud-init Secrets; a missing one keeps it from starting.
    await waitForSecrets(vm, pod, signal);
    const address = allocateAddress();
    await startPod(pod, nodeName, podNetwork.attach(address), address);
    // virt-controller hands the VMI to virt-handler once the launcher pod is ready.
    await phase('Scheduled', {
      nodeName,
      activePods: { [pod.uid]: nodeName },
      conditions: [condition('PodScheduled', 'True')],
    });
    await sleep(faults.bootDelayMs ?? options.defaultBootDelayMs ?? 0, undefined, { signal });

    const userData = await readUserData(kube, vm);
    signal.throwIfAborted();
    const backend = vm.spec.template.metadata?.annotations?.[ANNOTATION_BACKEND] ?? options.qemu?.default ?? 'process';
    if (backend === 'qemu' || backend === 'container') {
      if (options.qemu === undefined) throw new Error(`${namespace}/${name} asks for QEMU, which this sandbox has not`);
      const node = backend === 'container' ? 'container' : 'vm';
      await runQemuGuest(boot, vm, vmi, { userData, address, nodeName, phase, signal, node });
      return;
    }
    if (faults.fault === 'fails-to-start') throw new Error('simulated: the domain failed to start');
    const identity = parseGuestIdentity(userData);
    if (faults.fault !== 'no-ssh') {
      const guest = bootGuest({
        dir: join(guestsDir, `${namespace}.${name}`),
        address,
        port: sshPort,
        identity,
        hostname: identity.hostname ?? name,
      });
      boot.guest = { address, port: sshPort, root: guest.root, pid: guest.sshd.pid, stop: () => guest.stop() };
      guest.sshd.exited.then((code) => {
        if (!signal.aborted) log(`sshd of ${namespace}/${name} exited with ${code}; see ${guest.sshd.logFile}`);
      });
      // Running once sshd answers. A guest slow to start (fifty at once on a busy host) is late,
      // not failed: KubeVirt fails no VMI for it.
      await guest.listening(60_000);
    }
    // virt-handler reports the domain running first, the interface as the domain has it (no
    // address yet), and the address in a later update; a guest agent, only if the image has one.
    const agent = faults.guestAgent === true && faults.fault !== 'no-ssh';
    const conditions = [condition('PodScheduled', 'True'), condition('Ready', 'True')];
    const { ipAddress: _, ipAddresses: __, ...withoutAddress } = defaultInterface(address, agent);
    await phase('Running', { nodeName, interfaces: [withoutAddress], conditions });
    await setVmStatus(vm, {
      printableStatus: 'Running',
      ready: true,
      created: true,
      conditions: [condition('Ready', 'True')],
    });
    await sleep(faults.addressDelayMs ?? defaultAddressDelayMs, undefined, { signal });
    await setVmiStatus(vmi, {
      interfaces: [defaultInterface(address, agent)],
      ...(agent
        ? {
            conditions: [...conditions, condition('AgentConnected', 'True')],
            guestOSInfo: { id: 'breakfix-sim', name: 'breakfix simulated guest' },
          }
        : {}),
    });
    if (boot.pod?.probed && boot.guest !== undefined) await setPodReady(boot.pod, true);
    log(`${namespace}/${name} running at ${address}:${sshPort}`);
    if (boot.guest !== undefined && faults.emulateBootstrap) {
      await emulateBootstrap(boot.guest.root, identity.runcmd, faults, signal);
    }

    const ending = [
      faults.crashAfterMs === undefined ? undefined : { ms: faults.crashAfterMs, crash: true },
      faults.poweroffAfterMs === undefined ? undefined : { ms: faults.poweroffAfterMs, crash: false },
    ]
      .filter((end) => end !== undefined)
      .sort((a, b) => a.ms - b.ms)[0];
    if (ending !== undefined) {
      await sleep(ending.ms, undefined, { signal });
      await boot.guest?.stop();
      await endPod(boot.pod, ending.crash ? 'Failed' : 'Succeeded');
      await phase(ending.crash ? 'Failed' : 'Succeeded', {
        conditions: [
          ending.crash
            ? condition('Ready', 'False', 'GuestCrashed', 'simulated crash')
            : condition('Ready', 'False', 'GuestShutdown', 'the guest powered off'),
        ],
      });
      log(`${namespace}/${name} ${ending.crash ? 'crashed' : 'powered off'} (simulated)`);
      enqueue(`${namespace}/${name}`, () => reconcile(namespace, name));
    }
  }

  /**
   * A real guest: Running as soon as QEMU runs (as virt-handler reports a started domain), the
   * interface's address only once the lab's DHCP leased it. QEMU exiting ends the VMI: Succeeded
   * when the guest powered off, Failed otherwise; the VM's runStrategy decides what follows.
   */
  async function runQemuGuest(
    boot: Boot,
    vm: VirtualMachine,
    vmi: VirtualMachineInstance,
    context: {
      userData: string;
      address: string;
      nodeName: string;
      phase: (value: string, extra?: Record<string, unknown>) => Promise<void>;
      signal: AbortSignal;
      node: 'vm' | 'container';
    },
  ): Promise<void> {
    const { address, nodeName, phase, signal } = context;
    const namespace = vm.metadata.namespace ?? '';
    const name = vm.metadata.name;
    const qemu = options.qemu?.guests;
    if (qemu === undefined) return;
    const started = await qemu.boot(vm, vmi, { userData: context.userData }, address, context.node);
    if ('unschedulable' in started) {
      // As a launcher pod whose containerDisk cannot be pulled: the VMI waits, nothing fails.
      await setVmiStatus(vmi, {
        phase: 'Scheduling',
        conditions: [condition('PodScheduled', 'False', 'ErrImagePull', started.unschedulable)],
      });
      await setVmStatus(vm, { printableStatus: 'ErrImagePull', ready: false, created: true });
      log(`${namespace}/${name}: ${started.unschedulable}`);
      return;
    }
    const guest: QemuGuest = started;
    boot.guest = { address, port: sshPort, root: '', pid: guest.vm.pid, stop: () => guest.stop() };
    if (signal.aborted) {
      await guest.stop();
      signal.throwIfAborted();
    }
    const running = { nodeName, conditions: [condition('PodScheduled', 'True'), condition('Ready', 'True')] };
    await phase('Running', { ...running, interfaces: [{ name: 'default', mac: guest.vm.mac, linkState: 'up' }] });
    await setVmStatus(vm, {
      printableStatus: 'Running',
      ready: true,
      created: true,
      conditions: [condition('Ready', 'True')],
    });

    const exited = guest.vm.exited.then((code) => ({ code }));
    const aborted = new Promise<{ aborted: true }>((resolve) =>
      signal.addEventListener('abort', () => resolve({ aborted: true }), { once: true }),
    );
    const leased = await Promise.race([guest.guestAddress(30 * 60_000).then((lease) => ({ lease })), exited, aborted]);
    if ('aborted' in leased) return;
    if ('lease' in leased) {
      await setVmiStatus(vmi, {
        ...running,
        interfaces: [{ ...defaultInterface(address), mac: guest.vm.mac, infoSource: 'domain' }],
      });
      if (boot.guest !== undefined) boot.guest.guestAddress = leased.lease;
      if (boot.pod?.probed) await setPodReady(boot.pod, true);
      log(`${namespace}/${name} leased ${leased.lease}; SSH at ${address}:${sshPort}`);
    }
    const ended = await Promise.race([exited, aborted]);
    if ('aborted' in ended) return;
    const { code } = ended;
    await guest.stop();
    await endPod(boot.pod, code === 0 ? 'Succeeded' : 'Failed');
    await phase(code === 0 ? 'Succeeded' : 'Failed', {
      conditions: [
        condition('Ready', 'False', 'GuestExited', `QEMU exited with ${code}; console: ${guest.vm.consoleLog}`),
      ],
    });
    await setVmStatus(vm, { printableStatus: 'Stopped', ready: false, created: true });
    log(`${namespace}/${name}: QEMU exited with ${code}`);
    enqueue(`${namespace}/${name}`, () => reconcile(namespace, name));
  }

  /**
   * Creates the VMI's launcher pod, retrying with back-off while the apiserver refuses it. Meanwhile
   * the VMI stays Pending with virt-controller's `Synchronized: False, FailedCreate` condition
   * carrying the apiserver's own message (an exceeded quota, say), mirrored on the VM, as KubeVirt
   * reports it (pkg/virt-controller/watch/vmi/lifecycle.go).
   */
  async function createLauncherPod(
    vm: VirtualMachine,
    vmi: VirtualMachineInstance,
    signal: AbortSignal,
  ): Promise<LauncherPod> {
    const manifest = launcherPod(vmi);
    const probed = (vmi as { spec?: { readinessProbe?: unknown } }).spec?.readinessProbe !== undefined;
    for (let pause = 1_000; ; pause = Math.min(pause * 2, 16_000)) {
      signal.throwIfAborted();
      try {
        const created = await kube.apply(manifest);
        const spec = created.spec as PodForScheduling['spec'];
        return {
          namespace: created.metadata.namespace ?? '',
          name: created.metadata.name,
          uid: created.metadata.uid ?? '',
          probed,
          spec,
          ...(spec?.nodeName === undefined ? {} : { nodeName: spec.nodeName }),
        };
      } catch (error) {
        if (signal.aborted) throw error;
        const message = `failed to create virtual machine pod: ${(error as Error).message.replace(/^apply \S+ \S+: /, '')}`;
        log(`${keyOf(vmi)}: ${message}`);
        const failed = condition('Synchronized', 'False', 'FailedCreate', message);
        await setVmiStatus(vmi, { phase: 'Pending', conditions: [failed] });
        await setVmStatus(vm, { printableStatus: 'Starting', ready: false, created: true, conditions: [failed] });
      }
      await sleep(pause, undefined, { signal });
    }
  }

  /**
   * Plays kube-scheduler for one launcher pod: binds it to the least loaded node whose labels match
   * its nodeSelector and whose allocatable resources hold its requests. While none does, the pod
   * carries `PodScheduled: False, Unschedulable` with the scheduler's message, the VMI stays
   * Scheduling with that condition and the VM shows ErrorUnschedulable, as on KubeVirt.
   */
  async function scheduleLauncherPod(
    vm: VirtualMachine,
    vmi: VirtualMachineInstance,
    pod: LauncherPod,
    transitions: readonly { phase: string; phaseTransitionTimestamp: string }[],
    signal: AbortSignal,
  ): Promise<string> {
    if (pod.nodeName !== undefined) return pod.nodeName;
    for (let pause = 1_000; ; pause = Math.min(pause * 2, 8_000)) {
      signal.throwIfAborted();
      // Decided and reserved without awaiting anything in between: no other pod can take this room.
      const placed = schedule({ spec: pod.spec ?? {} }, nodes, [...bound.values()]);
      if ('nodeName' in placed) {
        bound.set(pod.uid, { spec: { ...pod.spec, nodeName: placed.nodeName } });
        try {
          await kube.bind(pod, placed.nodeName);
        } catch (error) {
          // A retried binding that had gone through: the pod is bound already.
          const current = (await kube.get<KubeObject & PodForScheduling>(podRef(pod)))?.spec?.nodeName;
          if (current !== placed.nodeName) bound.delete(pod.uid);
          if (current === undefined) throw error;
          pod.nodeName = current;
          return current;
        }
        pod.nodeName = placed.nodeName;
        return placed.nodeName;
      }
      const unschedulable = condition('PodScheduled', 'False', 'Unschedulable', placed.unschedulable);
      await setPodStatus(pod, { phase: 'Pending', conditions: [unschedulable] });
      await setVmiStatus(vmi, {
        phase: 'Scheduling',
        phaseTransitionTimestamps: [...transitions],
        conditions: [unschedulable],
      });
      await setVmStatus(vm, {
        printableStatus: 'ErrorUnschedulable',
        ready: false,
        created: true,
        conditions: [unschedulable],
      });
      await sleep(pause, undefined, { signal });
    }
  }

  /** As a kubelet mounting the pod's Secret volumes: waits while a cloud-init Secret is missing. */
  async function waitForSecrets(vm: VirtualMachine, pod: LauncherPod, signal: AbortSignal): Promise<void> {
    const names = (vm.spec.template.spec.volumes ?? []).flatMap((volume) => {
      const source = volume.cloudInitNoCloud ?? volume.cloudInitConfigDrive;
      const ref = source?.userDataSecretRef ?? source?.secretRef;
      return ref === undefined ? [] : [ref.name];
    });
    let reported = false;
    for (;;) {
      signal.throwIfAborted();
      const missing: string[] = [];
      for (const name of names) {
        const secret = await kube.get({ apiVersion: 'v1', kind: 'Secret', namespace: pod.namespace, name });
        if (secret === undefined) missing.push(name);
      }
      if (missing.length === 0) return;
      if (!reported) {
        reported = true;
        log(`${pod.namespace}/${pod.name}: MountVolume.SetUp failed: secret "${missing[0]}" not found`);
        await setPodStatus(pod, {
          phase: 'Pending',
          conditions: [
            condition('PodScheduled', 'True'),
            condition('Initialized', 'False', 'ContainersNotInitialized'),
            condition('Ready', 'False', 'ContainersNotReady'),
          ],
        });
      }
      await sleep(2_000, undefined, { signal });
    }
  }

  /**
   * As the node's kubelet once the containers run: phase Running, the node's address, the pod's
   * address on the pod network (bridge binding: the guest's own, reached here at its loopback
   * `exposure`), and Ready unless the VMI has a readiness probe, which holds it until the guest
   * answers. The EndpointSlice controller reads exactly this.
   */
  async function startPod(pod: LauncherPod, nodeName: string, podIP: string, exposure: string): Promise<void> {
    const node = nodes.find((candidate) => candidate.name === nodeName);
    pod.hostIP = node?.internalIP ?? '';
    pod.podIP = podIP;
    pod.exposure = exposure;
    pod.startTime = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await setPodReady(pod, !pod.probed);
  }

  async function setPodReady(pod: LauncherPod, ready: boolean): Promise<void> {
    const manifest = (await kube.get<KubeObject & PodForScheduling>(podRef(pod)))?.spec as
      | {
          containers?: { name: string; image: string }[];
          initContainers?: { name: string; image: string; restartPolicy?: string }[];
        }
      | undefined;
    const since = pod.startTime ?? '';
    const running = (container: { name: string; image: string }, isReady: boolean) => ({
      name: container.name,
      image: container.image,
      imageID: '',
      ready: isReady,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: since } },
    });
    const status = ready ? 'True' : 'False';
    await setPodStatus(pod, {
      phase: 'Running',
      hostIP: pod.hostIP,
      hostIPs: [{ ip: pod.hostIP }],
      podIP: pod.podIP,
      podIPs: [{ ip: pod.podIP }],
      startTime: since,
      conditions: [
        condition('PodReadyToStartContainers', 'True'),
        condition('Initialized', 'True'),
        condition(UNPAUSED_CONDITION, 'True'),
        condition('ContainersReady', status),
        condition('Ready', status),
        condition('PodScheduled', 'True'),
      ],
      containerStatuses: (manifest?.containers ?? []).map((container) =>
        running(container, ready || container.name !== 'compute'),
      ),
      initContainerStatuses: (manifest?.initContainers ?? []).map((container) =>
        container.restartPolicy === 'Always'
          ? running(container, true)
          : {
              name: container.name,
              image: container.image,
              imageID: '',
              ready: true,
              restartCount: 0,
              state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: since, finishedAt: since } },
            },
      ),
    });
  }

  /** As the CNI when a pod's sandbox goes: its address is free again. */
  function detach(pod: LauncherPod | undefined): void {
    if (pod?.podIP !== undefined && pod.exposure !== undefined) podNetwork.release(pod.podIP, pod.exposure);
  }

  /** virt-launcher exits when its VM ends: the pod is Succeeded or Failed, and deletes at once. */
  async function endPod(pod: LauncherPod | undefined, phase: 'Succeeded' | 'Failed'): Promise<void> {
    if (pod === undefined) return;
    bound.delete(pod.uid);
    detach(pod);
    try {
      await setPodStatus(pod, {
        phase,
        conditions: [
          condition('Ready', 'False', 'PodCompleted'),
          condition('ContainersReady', 'False', 'PodCompleted'),
        ],
      });
    } catch (error) {
      if ((error as { code?: string }).code !== 'not_found') throw error;
    }
  }

  async function setPodStatus(pod: LauncherPod, status: Record<string, unknown>): Promise<void> {
    await kube.patchStatus(podRef(pod), status);
  }

  /**
   * A launcher pod being deleted (its VMI or namespace going, or someone deleting it): as its
   * kubelet, stop the guest, then end the graceful deletion, which only a kubelet does. A VMI that
   * loses its pod while it runs fails, as on KubeVirt; its VM's runStrategy decides what follows.
   */
  async function podDeleted(pod: KubeObject): Promise<void> {
    const namespace = pod.metadata.namespace ?? '';
    const owner = pod.metadata.ownerReferences?.find((ref) => ref.kind === 'VirtualMachineInstance');
    const key = `${namespace}/${owner?.name ?? ''}`;
    const boot = boots.get(key);
    if (boot !== undefined && boot.pod?.uid === pod.metadata.uid) {
      await shutdown(key);
      const vmi = await kube.get<VirtualMachineInstance>({
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        namespace,
        name: owner?.name ?? '',
      });
      if (vmi !== undefined && vmi.metadata.deletionTimestamp === undefined && vmi.metadata.uid === boot.uid) {
        await setVmiStatus(vmi, {
          phase: 'Failed',
          conditions: [condition('Ready', 'False', 'PodTerminating', 'the virt-launcher pod was deleted')],
        }).catch(() => undefined);
        enqueue(key, () => reconcile(namespace, owner?.name ?? ''));
      }
    }
    await kube.delete({ apiVersion: 'v1', kind: 'Pod', namespace, name: pod.metadata.name }, { gracePeriodSeconds: 0 });
  }

  async function shutdown(key: string): Promise<void> {
    const boot = boots.get(key);
    if (boot === undefined) return;
    boots.delete(key);
    boot.controller.abort();
    // Stopping the guest first ends a boot that waits on it (a QEMU guest's lease or exit).
    await boot.guest?.stop();
    await boot.done;
    await boot.guest?.stop();
    detach(boot.pod);
  }

  async function setVmiStatus(vmi: VirtualMachineInstance, status: Record<string, unknown>): Promise<void> {
    await kube.patchStatus(
      {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        name: vmi.metadata.name,
        namespace: vmi.metadata.namespace ?? '',
      },
      status,
    );
  }

  async function setVmStatus(vm: VirtualMachine, status: Record<string, unknown>): Promise<void> {
    try {
      await kube.patchStatus(
        {
          apiVersion: 'kubevirt.io/v1',
          kind: 'VirtualMachine',
          name: vm.metadata.name,
          namespace: vm.metadata.namespace ?? '',
        },
        // KubeVirt records the runStrategy in status once the VM has had an instance.
        status.created === true || vm.status?.runStrategy !== undefined
          ? { ...status, runStrategy: runStrategyOf(vm) }
          : status,
      );
    } catch (error) {
      // The VM may be deleted while we report on it; that is not a failure of the simulation.
      if ((error as { code?: string }).code !== 'not_found') throw error;
    }
  }

  async function watchKind(kind: 'VirtualMachine' | 'VirtualMachineInstance'): Promise<void> {
    const handle = await kube.watch<KubeObject>(
      'kubevirt.io/v1',
      kind,
      {},
      (type, object) => {
        const namespace = object.metadata.namespace ?? '';
        const name = object.metadata.name;
        // Our own status updates move VMIs all the time: only a deletion, or a VMI that ended
        // (the runStrategy decides what follows), needs the controller.
        const ended = isFinal(object as VirtualMachineInstance) || object.metadata.deletionTimestamp !== undefined;
        if (kind === 'VirtualMachineInstance' && type !== 'DELETED' && !ended) return;
        enqueue(keyOf(object), () => reconcile(namespace, name));
      },
      (error) => {
        if (stopped) return;
        log(`watch of ${kind} ended (${(error as Error).message ?? error}); restarting`);
        setTimeout(
          () => void watchKind(kind).catch((e: unknown) => log(`rewatch failed: ${(e as Error).message}`)),
          1_000,
        );
      },
    );
    watches.push(handle);
  }

  async function watchLauncherPods(): Promise<void> {
    const handle = await kube.watch<KubeObject>(
      'v1',
      'Pod',
      { labelSelector: `${LAUNCHER_LABEL.key}=${LAUNCHER_LABEL.value}` },
      (type, pod) => {
        const phase = (pod as PodForScheduling).status?.phase;
        if (type === 'DELETED' || phase === 'Succeeded' || phase === 'Failed') bound.delete(pod.metadata.uid ?? '');
        const namespace = pod.metadata.namespace ?? '';
        const owner = pod.metadata.ownerReferences?.find((ref) => ref.kind === 'VirtualMachineInstance')?.name ?? '';
        // A pod gone lets its VMI's finalizers go (if the VMI is being deleted).
        if (type === 'DELETED') enqueue(`${namespace}/${owner}`, () => reconcile(namespace, owner));
        if (type === 'DELETED' || pod.metadata.deletionTimestamp === undefined) return;
        enqueue(`${namespace}/${owner}`, () => podDeleted(pod));
      },
      (error) => {
        if (stopped) return;
        log(`watch of launcher pods ended (${(error as Error).message ?? error}); restarting`);
        setTimeout(
          () => void watchLauncherPods().catch((e: unknown) => log(`rewatch failed: ${(e as Error).message}`)),
          1_000,
        );
      },
    );
    watches.push(handle);
  }

  return {
    async start() {
      heartbeats = await registerNodes(kube, nodes, log);
      for (const pod of await kube.list<KubeObject & PodForScheduling>('v1', 'Pod')) {
        const phase = pod.status?.phase;
        if (pod.spec?.nodeName !== undefined && phase !== 'Succeeded' && phase !== 'Failed') {
          bound.set(pod.metadata.uid ?? '', pod);
        }
      }
      await watchLauncherPods();
      await watchKind('VirtualMachine');
      await watchKind('VirtualMachineInstance');
    },
    async stop() {
      stopped = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      heartbeats?.stop();
      for (const watch of watches) watch.stop();
      await Promise.all([...boots.keys()].map((key) => shutdown(key)));
    },
    guests() {
      return [...boots.entries()].flatMap(([key, boot]) => {
        if (boot.guest === undefined) return [];
        const [namespace = '', name = ''] = key.split('/');
        const { address, port, root, pid, guestAddress } = boot.guest;
        const podAddress = boot.pod?.podIP;
        return [
          {
            namespace,
            name,
            address,
            port,
            root,
            pid,
            ...(guestAddress === undefined ? {} : { guestAddress }),
            ...(podAddress === undefined ? {} : { podAddress }),
          },
        ];
      });
    },
  };
}

/**
 * cloud-init's runcmd is not executed in a simulated guest. When it runs breakfix's node bootstrap,
 * the simulator plays its outcome instead: after `bootstrap-ms` the readiness marker appears (or
 * the failure marker, with the `bootstrap-fails` fault), where the real script would write it.
 */
async function emulateBootstrap(
  root: string,
  runcmd: readonly string[],
  faults: Faults,
  signal: AbortSignal,
): Promise<void> {
  if (!runcmd.some((command) => command.includes(IMAGE_PATHS.bootstrapScript))) return;
  await sleep(faults.bootstrapMs ?? 0, undefined, { signal });
  const failed = faults.fault === 'bootstrap-fails';
  const marker = join(root, failed ? IMAGE_PATHS.failedMarker : IMAGE_PATHS.readyMarker);
  mkdirSync(dirname(marker), { recursive: true, mode: 0o755 });
  writeFileSync(marker, failed ? 'simulated: kubeadm init failed\n' : `${new Date().toISOString()}\n`);
}

/**
 * The Kube port, retrying what a controller's work queue would retry: requests that never reached
 * an answer (a dropped connection, a deadline) and the apiserver's 429 and 5xx. On KubeVirt a
 * transient API error delays a VMI; it never fails it.
 */
function retryingTransientErrors(kube: Kube): Kube {
  const transient = (error: unknown) =>
    error instanceof DeadlineExceededError ||
    (error instanceof UpstreamError && (error.status === undefined || error.status === 429 || error.status >= 500));
  const retry =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await call(...args);
        } catch (error) {
          if (attempt >= 5 || !transient(error)) throw error;
          await sleep(250 * 2 ** attempt);
        }
      }
    };
  return {
    apply: retry(kube.apply.bind(kube)) as Kube['apply'],
    patchStatus: retry(kube.patchStatus.bind(kube)) as Kube['patchStatus'],
    patch: retry(kube.patch.bind(kube)) as Kube['patch'],
    get: retry(kube.get.bind(kube)) as Kube['get'],
    list: retry(kube.list.bind(kube)) as Kube['list'],
    delete: retry(kube.delete.bind(kube)),
    bind: retry(kube.bind.bind(kube)),
    watch: kube.watch.bind(kube),
  };
}

function vmRef(namespace: string, name: string) {
  return { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', namespace, name };
}

function vmiRef(namespace: string, name: string) {
  return { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', namespace, name };
}

function podRef(pod: { namespace: string; name: string }) {
  return { apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name };
}

/**
 * The VMI's `default` interface (the pod network) at `address`; the guest's own name for it only
 * when a guest agent reports it. On KubeVirt (bridge binding) that is the pod's address; here it is
 * the guest's loopback exposure, the one address of the guest the platform may dial (ADR 0031).
 */
function defaultInterface(address: string, agent = false) {
  return {
    name: 'default',
    ...(agent ? { interfaceName: 'eth0' } : {}),
    ipAddress: address,
    ipAddresses: [address],
    mac: macFor(address),
    infoSource: agent ? 'domain, guest-agent' : 'domain',
    linkState: 'up',
  };
}

function condition(type: string, status: 'True' | 'False', reason?: string, message?: string) {
  return {
    type,
    status,
    lastProbeTime: null,
    lastTransitionTime: new Date().toISOString(),
    ...(reason === undefined ? {} : { reason }),
    ...(message === undefined ? {} : { message }),
  };
}

/** A stable locally administered MAC derived from the guest address. */
function macFor(address: string): string {
  const octets = address.split('.').map(Number);
  return ['02', '00', ...octets.map((o) => o.toString(16).padStart(2, '0'))].join(':');
}
