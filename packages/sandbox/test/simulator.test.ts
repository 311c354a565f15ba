import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { createKube, type Kube, type KubeObject } from '@breakfix/kube';
import { vmiAddress } from '@breakfix/manifests';
import { uniqueName, useSandbox } from '@breakfix/testkit';
import {
  ANNOTATION_BOOT_DELAY,
  ANNOTATION_CRASH_AFTER,
  ANNOTATION_EMULATE_BOOTSTRAP,
  ANNOTATION_FAULT,
} from '../src/index.js';
import { cloudInitSecret, isListening, keyPair, namespace, sshExec, userData, virtualMachine } from './fixtures.js';

interface Vmi extends KubeObject {
  status?: {
    phase?: string;
    nodeName?: string;
    interfaces?: { name?: string; ipAddress?: string }[];
    conditions?: { type: string; status: string; reason?: string }[];
  };
}
interface Pod extends KubeObject {
  spec?: {
    nodeName?: string;
    nodeSelector?: Record<string, string>;
    containers?: { name: string; resources?: { requests?: Record<string, string> } }[];
    initContainers?: { name: string; restartPolicy?: string; resources?: { requests?: Record<string, string> } }[];
  };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}
interface Vm extends KubeObject {
  status?: { printableStatus?: string; ready?: boolean; created?: boolean };
}

const adminKube = async () => createKube({ kubeconfig: (await useSandbox()).info.kubeconfig });
const vmiRef = (ns: string, name: string) => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  namespace: ns,
  name,
});
const vmRef = (ns: string, name: string) => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachine',
  namespace: ns,
  name,
});

/**
 * The VMI once it is Running and reports an address on its `default` interface (which KubeVirt
 * may do a moment after Running).
 */
async function runningVmi(kube: Kube, ns: string, name: string, timeoutMs = 60_000): Promise<Vmi> {
  return await waitFor(
    async () => {
      const vmi = await kube.get<Vmi>(vmiRef(ns, name));
      return vmi?.status?.phase === 'Running' && vmiAddress(vmi) !== undefined ? vmi : undefined;
    },
    { what: `VMI ${ns}/${name} Running with an address`, timeoutMs },
  );
}

const addressOf = (vmi: Vmi) => vmiAddress(vmi) ?? '';

async function labVm(kube: Kube, options: { runStrategy?: string; annotations?: Record<string, string> } = {}) {
  const ns = uniqueName('sim');
  const hostKey = keyPair('host');
  const learner = keyPair('learner');
  await kube.apply(namespace(ns));
  await kube.apply(
    cloudInitSecret(ns, 'cp-cloud-init', userData({ hostKey, users: { breakfix: [learner.public] }, hostname: 'cp' })),
  );
  await kube.apply(virtualMachine(ns, 'cp', { secret: 'cp-cloud-init', ...options }));
  return { ns, hostKey, learner };
}

describe('virt simulator', () => {
  test('brings a VM to Running and serves SSH with the keys from its cloud-init Secret', async () => {
    const kube = await adminKube();
    const { ns, hostKey, learner } = await labVm(kube);

    const vmi = await runningVmi(kube, ns, 'cp');
    const address = vmiAddress(vmi);
    assert.match(address ?? '', /^127\.\d+\.\d+\.\d+$/);
    assert.ok(vmi.status?.nodeName, 'a node name is reported');
    assert.deepEqual(
      vmi.status?.conditions
        ?.filter((c) => c.status === 'True')
        .map((c) => c.type)
        .sort(),
      ['PodScheduled', 'Ready'],
      'no AgentConnected: the simulated guest runs no guest agent unless the VM says so',
    );
    assert.equal(vmi.metadata.ownerReferences?.[0]?.kind, 'VirtualMachine');
    assert.equal(vmi.metadata.labels?.['breakfix.dev/role'], 'control-plane', 'template labels flow to the VMI');

    const vm = await waitFor(
      async () => {
        const current = await kube.get<Vm>(vmRef(ns, 'cp'));
        return current?.status?.ready ? current : undefined;
      },
      { what: 'VM ready', timeoutMs: 5_000 },
    );
    assert.equal(vm.status?.printableStatus, 'Running');

    const result = await sshExec({
      host: address ?? '',
      username: 'breakfix',
      privateKey: learner.private,
      hostKey: hostKey.public,
      command: 'id -un; cat /etc/hostname; ls /home',
    });
    assert.equal(result.code, 0);
    assert.deepEqual(result.stdout.trim().split('\n'), ['breakfix', 'cp', 'breakfix']);
  });

  test('refuses a key that is not authorized, and a client pinning another host key refuses the guest', async () => {
    const kube = await adminKube();
    const { ns, hostKey, learner } = await labVm(kube);
    const address = addressOf(await runningVmi(kube, ns, 'cp'));

    await assert.rejects(
      sshExec({
        host: address,
        username: 'breakfix',
        privateKey: keyPair().private,
        hostKey: hostKey.public,
        command: 'true',
      }),
      /authentication methods failed/,
    );
    await assert.rejects(
      sshExec({
        host: address,
        username: 'breakfix',
        privateKey: learner.private,
        hostKey: keyPair().public,
        command: 'true',
      }),
      /verification failed/i,
    );
    await assert.rejects(
      sshExec({
        host: address,
        username: 'root',
        privateKey: learner.private,
        hostKey: hostKey.public,
        command: 'true',
      }),
      /authentication methods failed/,
    );
  });

  test('sessions are confined to the guest root', async () => {
    const kube = await adminKube();
    const { ns, hostKey, learner } = await labVm(kube);
    const address = addressOf(await runningVmi(kube, ns, 'cp'));
    const run = (command: string) =>
      sshExec({ host: address, username: 'breakfix', privateKey: learner.private, hostKey: hostKey.public, command });

    const osRelease = await run('cat /etc/os-release');
    assert.match(osRelease.stdout, /breakfix simulated guest/);
    const outside = await run('ls /work /root /proc 2>&1; touch /etc/x 2>&1; echo done');
    assert.doesNotMatch(outside.stdout, /node_modules|package\.json/);
    assert.match(outside.stdout, /done/);
    const write = await run('echo hello > /tmp/note && cat /tmp/note && sudo cat /tmp/note');
    assert.equal(write.stdout, 'hello\nhello\n');
  });

  test('deleting the VM deletes its VMI and stops its sshd', async () => {
    const kube = await adminKube();
    const { ns } = await labVm(kube);
    const address = addressOf(await runningVmi(kube, ns, 'cp'));
    assert.equal(await isListening(address, 22), true);

    assert.equal(await kube.delete(vmRef(ns, 'cp')), true);
    await waitFor(async () => ((await kube.get(vmiRef(ns, 'cp'))) === undefined ? true : undefined), {
      what: 'VMI deleted',
      timeoutMs: 10_000,
    });
    await waitFor(async () => ((await isListening(address, 22)) ? undefined : true), {
      what: 'sshd stopped',
      timeoutMs: 10_000,
    });
  });

  test('runStrategy Halted creates no VMI and reports Stopped; switching to Always starts it', async () => {
    const kube = await adminKube();
    const { ns } = await labVm(kube, { runStrategy: 'Halted' });
    await waitFor(
      async () => ((await kube.get<Vm>(vmRef(ns, 'cp')))?.status?.printableStatus === 'Stopped' ? true : undefined),
      { what: 'VM Stopped', timeoutMs: 10_000 },
    );
    assert.equal(await kube.get(vmiRef(ns, 'cp')), undefined);

    const vm = await kube.get<KubeObject & { spec: Record<string, unknown> }>(vmRef(ns, 'cp'));
    assert.ok(vm);
    await kube.apply({ ...virtualMachine(ns, 'cp', { secret: 'cp-cloud-init', runStrategy: 'Always' }) });
    await runningVmi(kube, ns, 'cp');
  });

  test('an unschedulable fault leaves the VMI Scheduling and the VM ErrorUnschedulable', async () => {
    const kube = await adminKube();
    const { ns } = await labVm(kube, { annotations: { [ANNOTATION_FAULT]: 'unschedulable' } });
    const vm = await waitFor(
      async () => {
        const current = await kube.get<Vm>(vmRef(ns, 'cp'));
        return current?.status?.printableStatus === 'ErrorUnschedulable' ? current : undefined;
      },
      { what: 'VM ErrorUnschedulable', timeoutMs: 60_000 },
    );
    assert.equal(vm.status?.ready, false);
    const vmi = await kube.get<Vmi>(vmiRef(ns, 'cp'));
    assert.equal(vmi?.status?.phase, 'Scheduling');
    assert.equal(vmi?.status?.conditions?.find((c) => c.type === 'PodScheduled')?.reason, 'Unschedulable');
  });

  test('a no-ssh fault runs the VMI but nobody answers on port 22', async () => {
    const kube = await adminKube();
    const { ns } = await labVm(kube, { annotations: { [ANNOTATION_FAULT]: 'no-ssh' } });
    const vmi = await runningVmi(kube, ns, 'cp');
    assert.equal(
      vmi.status?.conditions?.some((c) => c.type === 'AgentConnected'),
      false,
    );
    assert.equal(await isListening(vmiAddress(vmi) ?? '', 22), false);
  });

  test('a simulated guest writes the ready marker only when the VM asks for an emulated bootstrap', async () => {
    // Given two VMs whose cloud-init runs breakfix's bootstrap, one opting in to its emulation
    const kube = await adminKube();
    const marker = 'cat /var/lib/breakfix/ready /var/lib/breakfix/failed 2>/dev/null; true';
    const boot = async (annotations: Record<string, string>) => {
      const ns = uniqueName('boot');
      const hostKey = keyPair('host');
      const operator = keyPair('operator');
      await kube.apply(namespace(ns));
      const data = userData({
        hostKey,
        users: { breakfix: [operator.public] },
        hostname: 'cp',
        runcmd: ['/usr/local/sbin/breakfix-bootstrap'],
      });
      await kube.apply(cloudInitSecret(ns, 'cp-cloud-init', data));
      await kube.apply(virtualMachine(ns, 'cp', { secret: 'cp-cloud-init', annotations }));
      const host = addressOf(await runningVmi(kube, ns, 'cp'));
      return { host, username: 'breakfix', privateKey: operator.private, hostKey: hostKey.public, command: marker };
    };
    const emulated = await boot({ [ANNOTATION_EMULATE_BOOTSTRAP]: 'true' });
    const plain = await boot({});

    // Then the emulated one becomes ready, as if kubeadm had run
    await waitFor(async () => (/^\d{4}-/.test((await sshExec(emulated)).stdout) ? true : undefined), {
      what: 'the emulated bootstrap to write the ready marker',
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    // And the other, where nothing runs kubeadm, does not in the seconds after it runs (the
    // emulation writes at once): a simulator must not report ready what never booted
    const until = Date.now() + 2_000;
    while (Date.now() < until) assert.equal((await sshExec(plain)).stdout, '', 'no marker without the opt-in');
  });

  test('a boot delay holds the VMI in Scheduled until it passes', async () => {
    const kube = await adminKube();
    const started = Date.now();
    const { ns } = await labVm(kube, { annotations: { [ANNOTATION_BOOT_DELAY]: '1500' } });
    await waitFor(
      async () => ((await kube.get<Vmi>(vmiRef(ns, 'cp')))?.status?.phase === 'Scheduled' ? true : undefined),
      {
        what: 'VMI Scheduled',
        timeoutMs: 5_000,
      },
    );
    await runningVmi(kube, ns, 'cp');
    assert.ok(Date.now() - started >= 1_500, 'Running only after the boot delay');
  });

  test('a VM whose cloud-init Secret is missing waits like KubeVirt (launcher pod not starting), and runs once it exists', {
    timeout: 60_000,
  }, async () => {
    const kube = await adminKube();
    const ns = uniqueName('sim');
    const hostKey = keyPair('host');
    await kube.apply(namespace(ns));
    await kube.apply(virtualMachine(ns, 'cp', { secret: 'later' }));
    // The pod is bound but its Secret volume cannot be mounted: it stays Pending, the VMI Scheduling
    const pod = await waitFor(
      async () => {
        const found = (await kube.list<Pod>('v1', 'Pod', { namespace: ns }))[0];
        return found?.status?.conditions?.some((c) => c.type === 'Initialized' && c.status === 'False')
          ? found
          : undefined;
      },
      { what: 'the launcher pod waiting for its volumes', timeoutMs: 60_000 },
    );
    assert.equal(pod.status?.phase, 'Pending');
    assert.equal((await kube.get<Vmi>(vmiRef(ns, 'cp')))?.status?.phase, 'Scheduling');
    await kube.apply(cloudInitSecret(ns, 'later', userData({ hostKey, users: { breakfix: [keyPair().public] } })));
    await runningVmi(kube, ns, 'cp');
  });

  test('a crashed guest is replaced by a new VMI with a fresh disk (runStrategy Always)', async () => {
    const kube = await adminKube();
    const { ns, hostKey, learner } = await labVm(kube, { annotations: { [ANNOTATION_CRASH_AFTER]: '2000' } });
    const first = await runningVmi(kube, ns, 'cp');
    const address = addressOf(first);
    await sshExec({
      host: address,
      username: 'breakfix',
      privateKey: learner.private,
      hostKey: hostKey.public,
      command: 'echo mark > /tmp/mark',
    });
    // Faults are read at boot: without the annotation the replacement boots for good.
    await kube.apply(virtualMachine(ns, 'cp', { secret: 'cp-cloud-init' }));

    const second = await waitFor(
      async () => {
        const vmi = await kube.get<Vmi>(vmiRef(ns, 'cp'));
        return vmi?.metadata.uid !== first.metadata.uid && vmi?.status?.phase === 'Running' && vmiAddress(vmi)
          ? vmi
          : undefined;
      },
      { what: 'a new Running VMI', timeoutMs: 20_000 },
    );
    const again = await sshExec({
      host: addressOf(second),
      username: 'breakfix',
      privateKey: learner.private,
      hostKey: hostKey.public,
      command: 'cat /tmp/mark 2>/dev/null || echo gone',
    });
    assert.equal(again.stdout.trim(), 'gone', 'a containerDisk does not survive a new VMI');
  });
});
