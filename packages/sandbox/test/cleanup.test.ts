import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { createKube, type KubeObject } from '@breakfix/kube';
import { startSandboxProcess } from '@breakfix/testkit';
import { cloudInitSecret, keyPair, namespace, userData, virtualMachine } from './fixtures.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Processes whose command line mentions `needle` (the guests' sshds name their config path). */
function processesMentioning(needle: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('a sandbox killed with SIGKILL leaves no etcd, apiserver, controller manager, redis or sshd behind', async () => {
  // Given a sandbox of its own, not tied to this test process, with a VM whose sshd runs
  const sandbox = await startSandboxProcess({ tie: false });
  try {
    const kube = createKube({ kubeconfig: sandbox.info.kubeconfig });
    await kube.apply(namespace('cleanup'));
    const hostKey = keyPair();
    await kube.apply(cloudInitSecret('cleanup', 'ci', userData({ hostKey, users: { breakfix: [keyPair().public] } })));
    await kube.apply(virtualMachine('cleanup', 'cp', { secret: 'ci' }));
    await waitFor(
      async () => {
        const vmi = await kube.get<KubeObject & { status?: { phase?: string } }>({
          apiVersion: 'kubevirt.io/v1',
          kind: 'VirtualMachineInstance',
          namespace: 'cleanup',
          name: 'cp',
        });
        return vmi?.status?.phase === 'Running' ? true : undefined;
      },
      { what: 'the VM to run', timeoutMs: 20_000 },
    );
    const sshds = processesMentioning(`${sandbox.info.guestsDir}/`);
    const pids = [...sandbox.info.processes.map((p) => p.pid), ...sshds];
    assert.deepEqual(sandbox.info.processes.map((p) => p.name).sort(), [
      'etcd',
      'kube-apiserver',
      'kube-controller-manager',
      'redis-server',
    ]);
    assert.ok(sshds.length > 0, 'the VM has an sshd');
    assert.ok(pids.every(alive));

    // When the sandbox process is killed without a chance to clean up
    sandbox.child.kill('SIGKILL');

    // Then the kernel takes every helper with it
    await waitFor(async () => (pids.some(alive) ? undefined : true), {
      what: 'every sandbox process to exit',
      timeoutMs: 10_000,
    });
  } finally {
    await sandbox.stop();
  }
});
