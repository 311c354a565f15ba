import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@breakfix/core';
import { createKube } from '@breakfix/kube';
import { parsePoolsConfig } from '@breakfix/manifests';
import { type Environment, EnvironmentStore } from '@breakfix/pool';
import { startRedis } from '@breakfix/sandbox';
import { createOperatorKey } from '@breakfix/secrets';
import { uniqueName, useSandbox } from '@breakfix/testkit';
import { Redis } from 'ioredis';
import { bootDelay, deleteLabs, simulatedLabs } from '../../../packages/pool/test/simulated-labs.js';
import { createPoolWorker } from '../src/create-pool-worker.js';

const WORKER = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
const connections: Redis[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const connection of connections) connection.disconnect();
  for (const child of children) child.kill('SIGKILL');
});

function connector(url: string): () => Redis {
  return () => {
    const redis = new Redis(url, { maxRetriesPerRequest: null });
    connections.push(redis);
    return redis;
  };
}

const PROVISION_DEADLINE_MS = 60_000 + 60_000; // VMs running + control plane ready, as configured below

test('a worker killed with SIGKILL mid-provision: another worker finishes or cleans that lab in time, no namespace leaks', async () => {
  const { info } = await useSandbox();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const connect = connector(info.redisUrl);
  const prefix = uniqueName('kill');
  const operatorKey = createOperatorKey();
  const pools = { pools: [{ name: prefix, kubernetesVersion: '1.36', workers: 1, size: 'small', min: 1, max: 1 }] };
  const store = new EnvironmentStore({ redis: connect(), prefix: `${prefix}:` });

  // Given a worker process provisioning a lab whose VMs take 4 s to boot
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      WORKER,
      JSON.stringify({
        redisUrl: info.redisUrl,
        kubeconfig: info.kubeconfig,
        prefix,
        pools,
        operatorKey,
        bootDelayMs: 4_000,
        lockDurationMs: 3_000,
      }),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const env = await waitFor(
    async () => {
      const [first] = await store.list();
      if (first === undefined) return undefined;
      const vms = await kube.list('kubevirt.io/v1', 'VirtualMachine', { namespace: first.namespace });
      return vms.length === 2 ? first : undefined;
    },
    { what: 'the worker to create both VMs', timeoutMs: 60_000, intervalMs: 100 },
  );

  // When it is killed while the VMs boot
  child.kill('SIGKILL');
  const killedAt = Date.now();
  assert.equal((await store.get(env.id)).state, 'provisioning');

  // Then a fresh worker picks the stalled job up and the lab ends ready, within deadline + 90 s
  const worker = createPoolWorker({
    connection: connect,
    redis: connect(),
    store,
    // the same operator key as the killed worker: the lab it began trusts only that one
    // and the same instance: its reconciler owns exactly the labs the killed worker made
    provisioner: simulatedLabs(kube, store, {
      operatorKey,
      instance: prefix,
      vmsRunningTimeoutMs: 60_000,
      readyTimeoutMs: 60_000,
    }).provisioner,
    pools: parsePoolsConfig(pools),
    prefix,
    kube,
    lockDurationMs: 3_000,
  });
  try {
    const final = await waitFor(
      async () => {
        const state = (await store.get(env.id)).state;
        return state === 'ready' || state === 'deleted' ? state : undefined;
      },
      { what: `lab ${env.id} ready or cleaned`, timeoutMs: PROVISION_DEADLINE_MS + 90_000, intervalMs: 200 },
    );
    assert.equal(final, 'ready', 'all VMs existed, so the retry resumes rather than starting over');
    assert.ok(Date.now() - killedAt < PROVISION_DEADLINE_MS + 90_000);
    // And the reconciler finds nothing to repair: no namespace without a record, no record without a namespace
    const repaired = await worker.reconcile(0);
    assert.deepEqual(
      {
        orphanNamespaces: repaired.orphanNamespaces.filter((n) => n.includes(env.id)),
        orphanRecords: repaired.orphanRecords,
      },
      { orphanNamespaces: [], orphanRecords: [] },
    );
    assert.equal((await worker.tick()).enqueued.length, 0, 'the pool is full: the resumed lab counts');
  } finally {
    await worker.close();
    await deleteLabs(kube, store);
  }
});

test('redis-server stopped and restarted mid-work: the worker resumes within 30 s and no lab is ever held twice', async () => {
  const { info } = await useSandbox();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  // A private redis-server with an fsync-always AOF (production runs everysec), so stopping it
  // cannot disturb the other tests and a restart keeps every acknowledged write.
  const dir = mkdtempSync(join(tmpdir(), 'redis-restart-'));
  let redis = await startRedis({ dir, startTimeoutMs: 10_000, persistence: 'aof' });
  const port = Number(new URL(redis.url).port);
  const connect = () => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: null, retryStrategy: () => 200 });
    client.on('error', () => undefined); // reconnecting is expected while the server is down
    connections.push(client);
    return client;
  };
  const prefix = uniqueName('rr');
  const store = new EnvironmentStore({ redis: connect(), prefix: `${prefix}:` });
  const pools = parsePoolsConfig({
    pools: [
      {
        name: prefix,
        kubernetesVersion: '1.36',
        workers: 0,
        size: 'small',
        min: 4,
        max: 8,
        maxConcurrentProvisions: 4,
      },
    ],
  });
  const worker = createPoolWorker({
    connection: connect,
    redis: connect(),
    store,
    provisioner: simulatedLabs(kube, store, {
      vmsRunningTimeoutMs: 60_000,
      readyTimeoutMs: 60_000,
      decorate: bootDelay(1_500),
    }).provisioner,
    pools,
    prefix,
    kube,
  });
  // Learners keep claiming the whole time, as the API would
  const learners = Array.from({ length: 12 }, (_, i) => `learner-${i}`);
  const won = new Map<string, string>();
  let claiming = true;
  const claims = (async () => {
    while (claiming) {
      await Promise.all(
        learners.map(async (learner) => {
          let env: Awaited<ReturnType<typeof store.claim>>;
          try {
            env = await store.claim({ pool: prefix, learner, scenario: 'demo', ttlMs: 600_000 });
          } catch {
            // The pool is empty, the learner already holds a lab, or Redis is down: next round.
            return;
          }
          // Outside the catch: a learner with a second lab fails the test, never passes for an outage.
          const previous = won.get(learner);
          assert.ok(previous === undefined || previous === env.id, `${learner} got a second lab`);
          won.set(learner, env.id);
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  // The cron tick, every second (failing while Redis is down, as it would in production)
  const ticks: { at: number; ran: boolean }[] = [];
  const ticker = setInterval(() => {
    worker
      .tick()
      .then((result) => ticks.push({ at: Date.now(), ran: result.ran }))
      .catch(() => undefined);
  }, 1_000);
  const live = async () => (await store.list()).filter((e) => e.state === 'ready' || e.state === 'claimed').length;
  try {
    // Given the pool filling while learners claim
    await waitFor(async () => ((await store.list()).some((e) => e.state === 'provisioning') ? true : undefined), {
      what: 'provisions under way',
      timeoutMs: 10_000,
    });
    const before = await live();
    // When redis-server stops (its AOF on disk) and comes back 3 s later on the same port
    await redis.process.stop(5_000);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    redis = await startRedis({ dir, startTimeoutMs: 10_000, persistence: 'aof', port });
    const restartedAt = Date.now();

    // Then within 30 s the worker ticks again and more labs are ready (or taken) than before
    await waitFor(async () => (ticks.some((t) => t.ran && t.at > restartedAt) ? true : undefined), {
      what: 'a tick after the restart',
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    await waitFor(async () => ((await live()) > before ? true : undefined), {
      what: `more than ${before} labs ready or claimed after the restart`,
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    assert.ok(Date.now() - restartedAt < 30_000, 'resumed within 30 s');
    // Let the pool settle and the claimers take what they can
    await waitFor(async () => (won.size >= 4 ? true : undefined), { what: 'four claims won', timeoutMs: 90_000 });
  } finally {
    clearInterval(ticker);
    claiming = false;
    await claims;
    await worker.close();
  }
  // No environment is held twice, and Redis and the records agree on every holder
  const envs: Environment[] = await store.list();
  const holders = new Map<string, string>();
  for (const env of envs.filter((e) => e.state === 'claimed')) {
    assert.ok(env.learner !== undefined);
    assert.equal(holders.get(env.learner), undefined, `${env.learner} holds two labs`);
    holders.set(env.learner, env.id);
    assert.equal((await store.heldBy(env.learner))?.id, env.id);
  }
  assert.equal(new Set(won.values()).size, won.size, 'no lab went to two learners');
  for (const [learner, id] of won) assert.equal(holders.get(learner), id);
  for (const env of envs) await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: env.namespace });
  await redis.process.stop(2_000);
});
