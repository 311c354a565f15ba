import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { createKube, type Kube, type KubeObject, type WatchEventType } from '@breakfix/kube';
import { vmiAddress } from '@breakfix/manifests';
import { uniqueName, useSandbox } from '@breakfix/testkit';
import {
  ANNOTATION_ADDRESS_DELAY,
  ANNOTATION_CRASH_AFTER,
  ANNOTATION_FAULT,
  ANNOTATION_GUEST_AGENT,
  ANNOTATION_POWEROFF_AFTER,
  VM_CONTROLLER_FINALIZER,
  VMI_FINALIZER,
} from '../src/index.js';
import { cloudInitSecret, isListening, keyPair, namespace, userData, virtualMachine } from './fixtures.js';

interface Vmi extends KubeObject {
  status?: {
    phase?: string;
    interfaces?: { name?: string; ipAddress?: string }[];
    conditions?: { type: string; status: string }[];
    guestOSInfo?: { id?: string };
  };
}
interface Vm extends KubeObject {
  spec: { runStrategy?: string };
  status?: {
    printableStatus?: string;
    runStrategy?: string;
    stateChangeRequests?: { action: string; uid?: string }[];
    startFailure?: { consecutiveFailCount: number; retryAfterTimestamp: string; lastFailedVMIUID: string };
  };
}

const adminKube = async () => createKube({ kubeconfig: (await useSandbox()).info.kubeconfig });
const vmiRef = (ns: string) => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  namespace: ns,
  name: 'cp',
});
const vmRef = (ns: string) => ({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', namespace: ns, name: 'cp' });

async function lab(kube: Kube, options: { runStrategy?: string; annotations?: Record<string, string> } = {}) {
  const ns = uniqueName('kv');
  await kube.apply(namespace(ns));
  const data = userData({ hostKey: keyPair('host'), users: { breakfix: [keyPair().public] }, hostname: 'cp' });
  await kube.apply(cloudInitSecret(ns, 'cp-cloud-init', data));
  await kube.apply(virtualMachine(ns, 'cp', { secret: 'cp-cloud-init', ...options }));
  return ns;
}

async function vmiWhere(kube: Kube, ns: string, what: string, ok: (vmi: Vmi) => boolean, timeoutMs = 60_000) {
  return await waitFor(
    async () => {
      const vmi = await kube.get<Vmi>(vmiRef(ns));
      return vmi !== undefined && ok(vmi) ? vmi : undefined;
    },
    { what, timeoutMs, intervalMs: 100 },
  );
}

async function vmWhere(kube: Kube, ns: string, what: string, ok: (vm: Vm) => boolean, timeoutMs = 60_000) {
  return await waitFor(
    async () => {
      const vm = await kube.get<Vm>(vmRef(ns));
      return vm !== undefined && ok(vm) ? vm : undefined;
    },
    { what, timeoutMs, intervalMs: 100 },
  );
}

const reachable = (vmi: Vmi) => vmi.status?.phase === 'Running' && vmiAddress(vmi) !== undefined;

/** Holds for `ms`: the VMI stays as `ok` says (no restart, no new instance). */
async function staysFor(kube: Kube, ns: string, ms: number, ok: (vmi: Vmi | undefined) => boolean, why: string) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    assert.ok(ok(await kube.get<Vmi>(vmiRef(ns))), why);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Records every VMI event of a namespace, in order. */
async function recordVmis(kube: Kube, ns: string) {
  const events: { type: WatchEventType; vmi: Vmi; at: number }[] = [];
  const handle = await kube.watch<Vmi>(
    'kubevirt.io/v1',
    'VirtualMachineInstance',
    { namespace: ns },
    (type, vmi) => events.push({ type, vmi, at: Date.now() }),
    () => {},
  );
  return { events, stop: () => handle.stop() };
}

describe('status like KubeVirt', () => {
  test('phases come one update at a time, in KubeVirt order; the address comes after Running', {
    timeout: 90_000,
  }, async () => {
    // Given a watch on a namespace, and a VM whose address is reported 1.5 s after Running
    const kube = await adminKube();
    const ns = uniqueName('kv');
    await kube.apply(namespace(ns));
    const recorder = await recordVmis(kube, ns);
    try {
      const data = userData({ hostKey: keyPair('host'), users: { breakfix: [keyPair().public] } });
      await kube.apply(cloudInitSecret(ns, 'cp-cloud-init', data));
      await kube.apply(
        virtualMachine(ns, 'cp', { secret: 'cp-cloud-init', annotations: { [ANNOTATION_ADDRESS_DELAY]: '1500' } }),
      );

      // When it runs and reports its address
      await vmiWhere(kube, ns, 'the address', reachable);

      // Then each phase was its own update, in the order virt-controller and virt-handler write them
      const phases = recorder.events.map((e) => e.vmi.status?.phase).filter((p) => p !== undefined);
      const distinct = phases.filter((p, i) => p !== phases[i - 1]);
      assert.deepEqual(distinct, ['Pending', 'Scheduling', 'Scheduled', 'Running']);
      // And the first Running update had no address; it came in a later one, the delay later
      const running = recorder.events.find((e) => e.vmi.status?.phase === 'Running');
      const addressed = recorder.events.find((e) => vmiAddress(e.vmi) !== undefined);
      assert.ok(running && addressed);
      assert.equal(vmiAddress(running.vmi), undefined, 'no address at Running');
      assert.deepEqual(
        running.vmi.status?.interfaces?.map((i) => i.name),
        ['default'],
        'the interface is listed, without its address',
      );
      assert.ok(addressed.at - running.at >= 1_400, `address ${addressed.at - running.at} ms after Running`);
    } finally {
      recorder.stop();
    }
  });

  test('AgentConnected only when the guest has an agent', { timeout: 90_000 }, async () => {
    const kube = await adminKube();
    const plain = await lab(kube);
    const agent = await lab(kube, { annotations: { [ANNOTATION_GUEST_AGENT]: 'true' } });
    const connected = (vmi: Vmi) =>
      vmi.status?.conditions?.some((c) => c.type === 'AgentConnected' && c.status === 'True');

    const withAgent = await vmiWhere(kube, agent, 'AgentConnected', (v) => reachable(v) && connected(v) === true);
    assert.equal(withAgent.status?.guestOSInfo?.id, 'breakfix-sim');
    const without = await vmiWhere(kube, plain, 'Running with an address', reachable);
    assert.equal(connected(without), false);
    assert.equal(without.status?.guestOSInfo, undefined, 'guestOSInfo comes from the agent');
  });

  test('VMIs and VMs carry KubeVirt finalizers; a deleted VMI goes only once the guest stopped', {
    timeout: 120_000,
  }, async () => {
    // Given a running VM
    const kube = await adminKube();
    const ns = await lab(kube, { runStrategy: 'Once' });
    const vmi = await vmiWhere(kube, ns, 'Running with an address', reachable);
    assert.deepEqual(vmi.metadata.finalizers, [VM_CONTROLLER_FINALIZER, VMI_FINALIZER]);
    await vmWhere(kube, ns, 'the VM finalizer', (v) => (v.metadata.finalizers ?? []).includes(VM_CONTROLLER_FINALIZER));
    const address = vmiAddress(vmi) ?? '';
    assert.equal(await isListening(address, 22), true);

    const recorder = await recordVmis(kube, ns);
    try {
      // When its VMI is deleted
      await kube.delete(vmiRef(ns));
      await waitFor(async () => (recorder.events.some((e) => e.type === 'DELETED') ? true : undefined), {
        what: 'the VMI to go',
        timeoutMs: 30_000,
      });

      // Then it was held by its finalizers, ended as Succeeded (the handler shut the guest down
      // gracefully) and went only once they were removed, with its guest stopped
      const mine = recorder.events.filter((e) => e.vmi.metadata.uid === vmi.metadata.uid);
      const held = mine.find((e) => e.vmi.metadata.deletionTimestamp !== undefined);
      assert.deepEqual(held?.vmi.metadata.finalizers, [VM_CONTROLLER_FINALIZER, VMI_FINALIZER]);
      const gone = mine.at(-1);
      assert.equal(gone?.type, 'DELETED');
      assert.equal(gone?.vmi.status?.phase, 'Succeeded');
      assert.equal(await isListening(address, 22), false, 'the guest is stopped');

      // And a namespace deleted with its running VM goes once the simulator let its VMI go
      await vmiWhere(
        kube,
        ns,
        'a new VMI (runStrategy Once starts a deleted one again)',
        (v) => v.metadata.uid !== vmi.metadata.uid && reachable(v),
      );
      await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: ns });
      await waitFor(
        async () =>
          (await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: ns })) === undefined ? true : undefined,
        { what: 'the namespace to go', timeoutMs: 60_000 },
      );
      const last = recorder.events.at(-1);
      assert.equal(last?.type, 'DELETED');
      assert.ok(
        recorder.events.some(
          (e) =>
            e.vmi.metadata.uid === last?.vmi.metadata.uid &&
            e.vmi.metadata.deletionTimestamp &&
            e.vmi.metadata.finalizers?.includes(VMI_FINALIZER),
        ),
        'the namespace waited for the VMI finalizer',
      );
    } finally {
      recorder.stop();
    }
  });
});

describe('runStrategy like KubeVirt', () => {
  test('Always restarts a VMI that failed or succeeded; stopping sets Halted and deletes it', {
    timeout: 120_000,
  }, async () => {
    const kube = await adminKube();
    const ns = await lab(kube, { annotations: { [ANNOTATION_POWEROFF_AFTER]: '1000' } });
    const first = await vmiWhere(kube, ns, 'Running', reachable);
    // A guest that powered off (Succeeded) is started again
    const second = await vmiWhere(kube, ns, 'a new VMI', (v) => v.metadata.uid !== first.metadata.uid && reachable(v));
    // Stop as virt-api does for Always: runStrategy Halted
    await kube.apply(virtualMachine(ns, 'cp', { secret: 'cp-cloud-init', runStrategy: 'Halted' }));
    await waitFor(async () => ((await kube.get(vmiRef(ns))) === undefined ? true : undefined), {
      what: 'the VMI deleted',
      timeoutMs: 30_000,
    });
    const stopped = await vmWhere(kube, ns, 'Stopped', (v) => v.status?.printableStatus === 'Stopped');
    assert.equal(stopped.status?.runStrategy, 'Halted');
    assert.notEqual(second.metadata.uid, first.metadata.uid);
  });

  test('RerunOnFailure restarts a failed VMI, not one that succeeded', { timeout: 120_000 }, async () => {
    const kube = await adminKube();
    const crashing = await lab(kube, {
      runStrategy: 'RerunOnFailure',
      annotations: { [ANNOTATION_CRASH_AFTER]: '1000' },
    });
    const crashed = await vmiWhere(kube, crashing, 'Running', reachable);
    await vmiWhere(kube, crashing, 'a new VMI', (v) => v.metadata.uid !== crashed.metadata.uid && reachable(v));
    // (then halted: it would crash and restart for ever)
    await kube.apply(virtualMachine(crashing, 'cp', { secret: 'cp-cloud-init', runStrategy: 'Halted' }));
    await waitFor(async () => ((await kube.get(vmiRef(crashing))) === undefined ? true : undefined), {
      what: 'the crashing VM stopped',
      timeoutMs: 30_000,
    });

    const poweringOff = await lab(kube, {
      runStrategy: 'RerunOnFailure',
      annotations: { [ANNOTATION_POWEROFF_AFTER]: '3000' },
    });

    // A guest that powered off: its VMI Succeeded, and the VM controller deletes it without a new one
    const done = await vmiWhere(kube, poweringOff, 'Running', reachable);
    await waitFor(async () => ((await kube.get(vmiRef(poweringOff))) === undefined ? true : undefined), {
      what: 'the succeeded VMI deleted',
      timeoutMs: 30_000,
    });
    await vmWhere(kube, poweringOff, 'Stopped', (v) => v.status?.printableStatus === 'Stopped');
    await staysFor(kube, poweringOff, 3_000, (v) => v === undefined, 'not restarted');
    assert.ok(done.metadata.uid);
  });

  test('Once runs a VMI once: one that failed is not restarted', { timeout: 120_000 }, async () => {
    const kube = await adminKube();
    const ns = await lab(kube, { runStrategy: 'Once', annotations: { [ANNOTATION_CRASH_AFTER]: '1000' } });
    const failed = await vmiWhere(kube, ns, 'Failed', (v) => v.status?.phase === 'Failed');
    await staysFor(kube, ns, 3_000, (v) => v?.metadata.uid === failed.metadata.uid, 'not restarted');
    // A final VMI keeps only the finalizer of its (completed) launcher pod's owner
    assert.deepEqual((await kube.get(vmiRef(ns)))?.metadata.finalizers, [VMI_FINALIZER]);
  });

  test('Manual starts and stops only on request (virt-api state change requests), and never restarts', {
    timeout: 120_000,
  }, async () => {
    const kube = await adminKube();
    const ns = await lab(kube, { runStrategy: 'Manual', annotations: { [ANNOTATION_CRASH_AFTER]: '3000' } });
    await vmWhere(kube, ns, 'the VM controller to see it', (v) =>
      (v.metadata.finalizers ?? []).includes(VM_CONTROLLER_FINALIZER),
    );
    await staysFor(kube, ns, 1_500, (v) => v === undefined, 'no VMI without a start request');

    // virt-api's `start` for Manual: a Start request in status
    await kube.patchStatus(vmRef(ns), { stateChangeRequests: [{ action: 'Start' }] });
    const vmi = await vmiWhere(kube, ns, 'Running', reachable);
    await vmWhere(kube, ns, 'the request trimmed', (v) => v.status?.stateChangeRequests === undefined);

    // It crashes and stays Failed
    await vmiWhere(kube, ns, 'Failed', (v) => v.status?.phase === 'Failed');
    await staysFor(kube, ns, 2_000, (v) => v?.metadata.uid === vmi.metadata.uid, 'not restarted');

    // virt-api's `stop` for Manual: a Stop request for this VMI
    await kube.patchStatus(vmRef(ns), { stateChangeRequests: [{ action: 'Stop', uid: vmi.metadata.uid }] });
    await waitFor(async () => ((await kube.get(vmiRef(ns))) === undefined ? true : undefined), {
      what: 'the VMI deleted',
      timeoutMs: 30_000,
    });
    await vmWhere(kube, ns, 'the stop request trimmed', (v) => v.status?.stateChangeRequests === undefined);
    await staysFor(kube, ns, 1_500, (v) => v === undefined, 'stopped stays stopped');
  });

  test('Halted with a start request becomes Always and runs, as virt-api start does', { timeout: 90_000 }, async () => {
    const kube = await adminKube();
    const ns = await lab(kube, { runStrategy: 'Halted' });
    await vmWhere(kube, ns, 'Stopped', (v) => v.status?.printableStatus === 'Stopped');
    await kube.patchStatus(vmRef(ns), { stateChangeRequests: [{ action: 'Start' }] });
    await vmiWhere(kube, ns, 'Running', reachable);
    const vm = await vmWhere(kube, ns, 'request trimmed', (v) => v.status?.stateChangeRequests === undefined);
    assert.equal(vm.spec.runStrategy, 'Always');
  });

  test('a VMI that fails to start is retried with a growing back-off, reported as KubeVirt does', {
    timeout: 120_000,
  }, async () => {
    // Given a VM whose guest never starts (runStrategy Always)
    const kube = await adminKube();
    const ns = await lab(kube, { annotations: { [ANNOTATION_FAULT]: 'fails-to-start' } });

    // Then the first failure holds the next start back 10-15 s (10 s x 1², plus up to half)
    const once = await vmWhere(kube, ns, 'a first start failure', (v) => v.status?.startFailure !== undefined);
    const firstAt = Date.now();
    const first = once.status?.startFailure;
    assert.equal(first?.consecutiveFailCount, 1);
    const firstWait = Date.parse(first?.retryAfterTimestamp ?? '') - firstAt;
    assert.ok(firstWait > 8_000 && firstWait <= 15_000, `first back-off ${firstWait} ms`);
    await vmWhere(kube, ns, 'CrashLoopBackOff', (v) => v.status?.printableStatus === 'CrashLoopBackOff');
    // The failed VMI is deleted; the next one is created only once the back-off ended
    const next = await vmiWhere(kube, ns, 'the next VMI', (v) => v.metadata.uid !== first?.lastFailedVMIUID, 30_000);
    const createdAt = Date.parse(next.metadata.creationTimestamp ?? '');
    assert.ok(
      createdAt >= Date.parse(first?.retryAfterTimestamp ?? '') - 1_000,
      `next VMI created at ${next.metadata.creationTimestamp}, retry after ${first?.retryAfterTimestamp}`,
    );

    // And the second, after a new VMI failed too, 40-60 s (10 s x 2²)
    const twice = await vmWhere(
      kube,
      ns,
      'a second start failure',
      (v) => (v.status?.startFailure?.consecutiveFailCount ?? 0) >= 2,
      40_000,
    );
    const second = twice.status?.startFailure;
    assert.equal(second?.consecutiveFailCount, 2);
    assert.notEqual(second?.lastFailedVMIUID, first?.lastFailedVMIUID);
    const secondWait = Date.parse(second?.retryAfterTimestamp ?? '') - Date.now();
    assert.ok(secondWait > 35_000 && secondWait <= 60_000, `second back-off ${secondWait} ms`);
    // (stopped as virt-api stops Always: runStrategy Halted)
    await kube.apply(virtualMachine(ns, 'cp', { secret: 'cp-cloud-init', runStrategy: 'Halted' }));
    await vmWhere(kube, ns, 'Stopped', (v) => v.status?.printableStatus === 'Stopped');
  });
});
