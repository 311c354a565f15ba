import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { createKube } from '@breakfix/kube';
import { parsePoolsConfig } from '@breakfix/manifests';
import { EnvironmentStore } from '@breakfix/pool';
import { uniqueName, useSandbox } from '@breakfix/testkit';
import { Redis } from 'ioredis';
import { deleteLabs, simulatedLabs } from '../../../packages/pool/test/simulated-labs.js';
import { createPoolWorker } from '../src/create-pool-worker.js';

class LabBootFailed extends Error {}

const connections: Redis[] = [];
after(() => {
  for (const connection of connections) connection.disconnect();
});

test('a lab that loses a VMI: ready, it is failed, torn down and replaced; claimed, it is flagged for attention', async () => {
  const { info } = await useSandbox();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const connect = () => {
    const redis = new Redis(info.redisUrl, { maxRetriesPerRequest: null });
    connections.push(redis);
    return redis;
  };
  const prefix = uniqueName('lost');
  const store = new EnvironmentStore({ redis: connect(), prefix: `${prefix}:` });
  const pools = { pools: [{ name: prefix, kubernetesVersion: '1.36', workers: 1, size: 'small', min: 2, max: 3 }] };
  const worker = createPoolWorker({
    connection: connect,
    redis: connect(),
    store,
    provisioner: simulatedLabs(kube, store).provisioner,
    pools: parsePoolsConfig(pools),
    prefix,
    kube,
  });
  try {
    // Given two ready labs of one control plane and one worker, one of them claimed
    await worker.tick();
    const [ready, held] = await waitFor(
      async () => {
        const all = await store.list();
        // A failed boot is not replaced until the next tick, so waiting on would only time out:
        // end the wait with the provisioner's own reason.
        if (all.some((e) => e.state === 'failed')) {
          throw new LabBootFailed(`a lab failed to boot: ${JSON.stringify(await store.poolFailures())}`);
        }
        const labs = all.filter((e) => e.state === 'ready');
        return labs.length === 2 ? labs : undefined;
      },
      {
        what: 'two ready labs',
        timeoutMs: 260_000, // the provisioner's own deadlines (VMs running, then ready) plus a margin
        intervalMs: 200,
        isFinal: (error) => error instanceof LabBootFailed,
      },
    );
    assert.ok(ready && held);
    assert.deepEqual(Object.keys(ready.vmis ?? {}).sort(), ['cp', 'w1'], 'the checked boot is recorded');
    const claimed = await store.claim({ pool: prefix, learner: 'ada', scenario: 'demo', ttlMs: 600_000 });
    const idle = claimed.id === held.id ? ready : held;
    assert.equal((await worker.tick()).lost, undefined, 'healthy labs are left alone');

    // When the worker VM's VMI of each is deleted (runStrategy Once: KubeVirt boots a new one from a fresh disk)
    for (const env of [idle, claimed]) {
      await kube.delete({
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        namespace: env.namespace,
        name: 'w1',
      });
    }
    const tick = await worker.tick();

    // Then the ready lab is failed and torn down, and the tick already provisions its replacement
    const lost = new Map((tick.lost ?? []).map((l) => [l.id, l]));
    assert.equal(lost.get(idle.id)?.outcome, 'failed');
    assert.match(lost.get(idle.id)?.reason ?? '', /VMI w1 (is gone|was replaced|is \w+)/);
    assert.equal(tick.enqueued.length, 1, 'a replacement for the failed lab');
    await waitFor(async () => ((await store.get(idle.id)).state === 'deleted' ? true : undefined), {
      what: `lab ${idle.id} torn down`,
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    // and the claimed lab stays the learner's, flagged for an operator with the reason
    assert.equal(lost.get(claimed.id)?.outcome, 'flagged');
    const flagged = await store.get(claimed.id);
    assert.equal(flagged.state, 'claimed');
    assert.match(flagged.attention?.reason ?? '', /VMI w1/);
    // and flagged once: the next tick does not report it again for the same reason
    const again = await worker.tick();
    assert.ok(!(again.lost ?? []).some((l) => l.id === claimed.id && l.reason === flagged.attention?.reason));
  } finally {
    await worker.close();
    await deleteLabs(kube, store);
  }
});
