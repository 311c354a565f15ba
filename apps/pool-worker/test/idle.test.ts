import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@breakfix/core';
import { createKube } from '@breakfix/kube';
import { parseLabSpec, parsePoolsConfig } from '@breakfix/manifests';
import {
  createIdleReaper,
  createLabAccess,
  createLabActivity,
  EnvironmentStore,
  type LabEvent,
  labEventsChannel,
  NodePortAllocator,
  parseLabEvent,
} from '@breakfix/pool';
import { SHARED_NODE_PORTS, uniqueName, useSandbox } from '@breakfix/testkit';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { deleteLabs, simulatedLabs } from '../../../packages/pool/test/simulated-labs.js';
import { createPoolWorker } from '../src/create-pool-worker.js';

const MINUTE = 60_000;
const closers: (() => Promise<void>)[] = [];
const connections: Redis[] = [];
after(async () => {
  for (const close of closers) await close();
  for (const connection of connections) connection.disconnect();
});

/** A worker with idle reaping over real simulated labs, one injected clock for all of it. */
async function idleFixture() {
  const { info } = await useSandbox();
  const connect = () => {
    const redis = new Redis(info.redisUrl, { maxRetriesPerRequest: null });
    connections.push(redis);
    return redis;
  };
  const prefix = uniqueName('idlew');
  // A day behind the wall clock: the reconciler, which compares namespaces' creation times with this
  // clock, must never take the labs of other test files (created now) for old orphans.
  const clock = { now: Date.now() - 24 * 60 * MINUTE };
  const now = () => clock.now;
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const store = new EnvironmentStore({ redis: connect(), prefix: `${prefix}:`, now });
  const allocator = new NodePortAllocator({ redis: connect(), prefix: `${prefix}:`, range: SHARED_NODE_PORTS });
  const { provisioner, platform, operatorKey, ssh } = simulatedLabs(kube, store);
  const access = createLabAccess({ kube, store, allocator, ssh, platform, operatorKey });
  const pools = parsePoolsConfig({
    pools: [{ name: prefix, kubernetesVersion: '1.36', workers: 0, min: 0, max: 2, idleMinutes: 10 }],
  });
  const events: LabEvent[] = [];
  const subscriber = connect();
  await subscriber.subscribe(labEventsChannel(prefix));
  subscriber.on('message', (_channel, message) => {
    const event = parseLabEvent(message);
    if (event !== undefined) events.push(event);
  });
  const worker = createPoolWorker({
    connection: connect,
    redis: connect(),
    store,
    provisioner,
    pools,
    prefix,
    kube,
    now,
    idle: createIdleReaper({
      store,
      activity: createLabActivity({ redis: connect(), prefix, now }),
      targets: (env) => access.targets(env),
      ssh,
      learnerUser: platform.learner.user,
      pools,
      redis: connect(),
      eventsPrefix: prefix,
      now,
    }),
  });
  const teardowns = new Queue('teardown', { connection: connect(), prefix });
  closers.push(
    () => worker.close(),
    () => teardowns.close(),
    async () => {
      ssh.close();
      await deleteLabs(kube, store);
    },
  );
  return {
    clock,
    store,
    worker,
    events,
    async claimed(learner: string) {
      const id = uniqueName('e');
      assert.equal(await provisioner.provision({ id, pool: prefix, spec: parseLabSpec({ labId: id }) }), 'ready');
      const { environment } = await access.claim({ pool: prefix, learner, scenario: 'demo', ttlMs: 60 * MINUTE });
      // The claim's own connection as the learner (placing the lab key) lingers a moment for reuse.
      ssh.close();
      return environment;
    },
    teardownJob: async (id: string) => await teardowns.getJob(`teardown-${id}`),
    async event(labId: string, kind: LabEvent['kind']): Promise<LabEvent> {
      const deadline = Date.now() + 5_000;
      for (;;) {
        const found = events.find((e) => e.labId === labId && e.kind === kind);
        if (found !== undefined) return found;
        assert.ok(Date.now() < deadline, `no ${kind} event for ${labId} within 5 s: ${JSON.stringify(events)}`);
        await sleep(20);
      }
    },
  };
}

test('the tick warns an idle lab, then releases it with reason idle and queues its teardown', {
  timeout: 180_000,
}, async () => {
  const t = await idleFixture();
  const lab = await t.claimed('ida');
  const claimedAt = lab.claimedAt ?? assert.fail('claimedAt');

  t.clock.now = claimedAt + 4 * MINUTE;
  assert.deepEqual((await t.worker.tick()).idle?.warned, []);
  t.clock.now = claimedAt + 5 * MINUTE;
  const warned = await t.worker.tick();
  assert.deepEqual(warned.idle?.warned, [lab.id], JSON.stringify(warned.idle));
  assert.equal((await t.event(lab.id, 'idle-warning')).kind, 'idle-warning');
  assert.deepEqual((await t.store.get(lab.id)).idle, {
    warnedAt: claimedAt + 5 * MINUTE,
    releaseAt: claimedAt + 10 * MINUTE,
  });

  t.clock.now = claimedAt + 10 * MINUTE;
  const released = await t.worker.tick();
  assert.deepEqual(released.idle?.released, [lab.id]);
  assert.deepEqual(released.expired, []);
  const env = await t.store.get(lab.id);
  assert.equal(env.ended?.reason, 'idle');
  assert.equal(env.ended?.at, claimedAt + 10 * MINUTE);
  assert.ok(await t.teardownJob(lab.id), 'a teardown job for the idle lab');
  const ended = await t.event(lab.id, 'ended');
  assert.equal(ended.kind === 'ended' && ended.reason, 'idle');
});

test('every end of a claimed lab records its reason and publishes ended: expired, released, lost', {
  timeout: 180_000,
}, async () => {
  const t = await idleFixture();
  const expiring = await t.claimed('eve');
  const released = await t.claimed('rob');
  const claimedAt = expiring.claimedAt ?? assert.fail('claimedAt');

  // A lab the learner keeps using past its TTL still expires (idleness is not the TTL).
  await t.store.apply(released.id, 'release');
  t.clock.now = claimedAt + 61 * MINUTE;
  const tick = await t.worker.tick();
  assert.deepEqual(tick.expired, [expiring.id]);
  assert.equal((await t.store.get(expiring.id)).ended?.reason, 'expired');
  assert.equal((await t.store.get(released.id)).ended?.reason, 'released');
  const ended = [await t.event(expiring.id, 'ended'), await t.event(released.id, 'ended')];
  assert.deepEqual(
    ended.map((e) => e.kind === 'ended' && e.reason),
    ['expired', 'released'],
  );

  // A claimed record whose namespace is gone is lost: the reconciler releases it as such (once the
  // two teardowns under way are done, so it does not race them).
  for (const id of [expiring.id, released.id]) {
    await waitFor(async () => ((await t.store.get(id)).state === 'deleted' ? true : undefined), {
      what: `the teardown of ${id}`,
      timeoutMs: 60_000,
      intervalMs: 100,
    });
  }
  const lost = uniqueName('e');
  await t.store.create({ id: lost, pool: 'nowhere', namespace: `lab-${lost}-gone` });
  await t.store.apply(lost, 'provisioned');
  await t.store.claim({ pool: 'nowhere', learner: 'lou', scenario: 'demo', ttlMs: 60 * MINUTE });
  t.clock.now += 2 * MINUTE;
  const reconciled = await t.worker.reconcile(MINUTE);
  assert.ok(reconciled.orphanRecords.includes(lost), JSON.stringify(reconciled));
  assert.equal((await t.store.get(lost)).ended?.reason, 'lost');
  const lostEvent = await t.event(lost, 'ended');
  assert.equal(lostEvent.kind === 'ended' && lostEvent.reason, 'lost');
});
