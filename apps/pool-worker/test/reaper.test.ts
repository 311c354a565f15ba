import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { createKube } from '@breakfix/kube';
import { parseLabSpec, parsePoolsConfig } from '@breakfix/manifests';
import { createLabAccess, type Environment, EnvironmentStore, NodePortAllocator } from '@breakfix/pool';
import { SHARED_NODE_PORTS, uniqueName, useSandbox } from '@breakfix/testkit';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { deleteLabs, simulatedLabs } from '../../../packages/pool/test/simulated-labs.js';
import { createPoolWorker } from '../src/create-pool-worker.js';

const closers: (() => Promise<void>)[] = [];
const connections: Redis[] = [];
after(async () => {
  for (const close of closers) await close();
  for (const connection of connections) connection.disconnect();
});

/** BullMQ wants connections that never give up on a request; all are closed after the file. */
function connector(url: string): () => Redis {
  return () => {
    const redis = new Redis(url, { maxRetriesPerRequest: null });
    connections.push(redis);
    return redis;
  };
}

/**
 * The real store, with a moment between reading the records and handing them over: what a
 * learner or another replica does in `meanwhile` lands after the reaper read its list, as it can
 * in production at any time.
 */
class StaleListStore extends EnvironmentStore {
  meanwhile: (() => Promise<void>) | undefined;

  override async list(): Promise<Environment[]> {
    const environments = await super.list();
    const meanwhile = this.meanwhile;
    this.meanwhile = undefined;
    await meanwhile?.();
    return environments;
  }
}

const HOUR = 3_600_000;

/**
 * A worker over a StaleListStore that shares one injected clock with it. Provisions are recorded
 * and do nothing (what the reaper does is under test, not booting); teardowns are real jobs.
 */
async function reaperFixture(limits: { min: number; max: number }, withAllocator = false) {
  const { info } = await useSandbox();
  const connect = connector(info.redisUrl);
  const prefix = uniqueName('reap');
  const clock = { now: Date.now() };
  const store = new StaleListStore({ redis: connect(), prefix: `${prefix}:`, now: () => clock.now });
  const provisioner = {
    provision: async () => 'skipped' as const,
    teardown: async () => {},
    namespaceFor: (id: string) => `lab-${id}`,
    instance: prefix,
  };
  const pools = parsePoolsConfig({ pools: [{ name: prefix, kubernetesVersion: '1.36', workers: 0, ...limits }] });
  const allocator = withAllocator
    ? new NodePortAllocator({
        redis: connect(),
        prefix: `${prefix}:`,
        range: SHARED_NODE_PORTS,
        leaseMs: 10 * 60_000,
        now: () => clock.now,
      })
    : undefined;
  const worker = createPoolWorker({
    connection: connect,
    redis: connect(),
    store,
    provisioner,
    pools,
    prefix,
    kube: createKube({ kubeconfig: info.kubeconfig }),
    now: () => clock.now,
    ...(allocator === undefined ? {} : { allocator }),
  });
  const teardowns = new Queue('teardown', { connection: connect(), prefix });
  closers.push(
    () => worker.close(),
    () => teardowns.close(),
  );
  return {
    clock,
    store,
    worker,
    allocator,
    /** Ready labs claimed by these learners for `ttlMs`, at the clock's time. */
    async claimed(learners: string[], ttlMs: number): Promise<Environment[]> {
      const labs: Environment[] = [];
      for (const learner of learners) {
        const id = uniqueName('e');
        await store.create({ id, pool: prefix, namespace: `lab-${id}` });
        await store.apply(id, 'provisioned');
        labs.push(await store.claim({ pool: prefix, learner, scenario: 'demo', ttlMs }));
      }
      return labs;
    },
    /** The lab's teardown job, if one was ever queued (finished jobs are kept). */
    teardownJob: async (id: string) => await teardowns.getJob(`teardown-${id}`),
  };
}

test('a lab extended after the reaper read its list keeps its learner; the one not extended is reaped', {
  timeout: 60_000,
}, async () => {
  const t = await reaperFixture({ min: 0, max: 4 });
  // Given two labs claimed for an hour, and the hour is up
  const [kept, reaped] = await t.claimed(['ada', 'bob'], HOUR);
  assert.ok(kept && reaped);
  t.clock.now += HOUR + 1_000;

  // When ada extends hers just after the reaper read the records
  let extendedUntil = 0;
  t.store.meanwhile = async () => {
    extendedUntil = await t.store.extend(kept.id, 30 * 60_000, 2 * HOUR);
  };
  const tick = await t.worker.tick();

  // Then hers stays claimed, with the new expiry, and no teardown is queued for it
  assert.deepEqual(tick.expired, [reaped.id]);
  const survivor = await t.store.get(kept.id);
  assert.equal(survivor.state, 'claimed');
  assert.equal(survivor.expiresAt, extendedUntil);
  assert.equal((await t.store.heldBy('ada'))?.id, kept.id);
  assert.equal(await t.teardownJob(kept.id), undefined);
  // and bob's, whose time was up, is released and queued for teardown
  assert.equal((await t.store.get(reaped.id)).state, 'releasing');
  assert.ok(await t.teardownJob(reaped.id), `a teardown job for ${reaped.id}`);

  // And the reaper honours the new expiry: not a moment before it, at it
  t.clock.now = extendedUntil - 1;
  assert.deepEqual((await t.worker.tick()).expired, []);
  t.clock.now = extendedUntil;
  assert.deepEqual((await t.worker.tick()).expired, [kept.id]);
});

test('a lab its learner released after the reaper read its list: the tick goes on and tops the pool up', {
  timeout: 60_000,
}, async () => {
  // Given a pool of at most one lab, claimed, whose hour is up
  const t = await reaperFixture({ min: 1, max: 1 });
  const [lab] = await t.claimed(['cy'], HOUR);
  assert.ok(lab);
  t.clock.now += HOUR + 1_000;

  // When the learner releases it (/lab stop) just after the reaper read the records
  t.store.meanwhile = async () => {
    await t.store.apply(lab.id, 'release');
  };
  const tick = await t.worker.tick();

  // Then the tick runs to the end: the release was the learner's, not the reaper's
  assert.equal(tick.ran, true);
  assert.deepEqual(tick.expired, []);
  assert.equal((await t.store.get(lab.id)).state, 'releasing');
  // and the lab's place no longer counts as live, so the pool gets its one lab back
  assert.equal(tick.enqueued.length, 1, `tick: ${JSON.stringify(tick)}`);
  assert.deepEqual(tick.held, []);
});

test('a claimed lab keeps its NodePort past the lease time: every tick renews the leases of claimed labs', {
  timeout: 120_000,
}, async () => {
  const t = await reaperFixture({ min: 0, max: 2 }, true);
  const allocator = t.allocator ?? assert.fail('the fixture has an allocator');
  // Given a lab claimed for an hour, holding a port leased for 10 minutes
  const [lab] = await t.claimed(['ada'], HOUR);
  const id = lab?.id ?? assert.fail('a lab was claimed');
  const port = await allocator.allocate(id);
  const leaseOf = async () => (await allocator.leases()).find((l) => l.labId === id);
  // When ticks come every 9 minutes, for 27 minutes
  for (let i = 0; i < 3; i++) {
    t.clock.now += 9 * 60_000;
    assert.equal((await t.worker.tick()).ran, true);
    // Then after each the lease runs 10 minutes from that tick, on the same port
    assert.deepEqual(
      { port: (await leaseOf())?.port, expiresAt: (await leaseOf())?.expiresAt },
      { port, expiresAt: t.clock.now + 10 * 60_000 },
    );
  }
  // And once the lab is released, the tick no longer renews it (its teardown frees the port)
  await t.store.apply(id, 'release');
  t.clock.now += 60_000;
  await t.worker.tick();
  await waitFor(async () => ((await leaseOf()) === undefined ? true : undefined), {
    what: `the released lab's lease freed`,
    timeoutMs: 60_000,
    intervalMs: 200,
  });
});

test('the teardown of a lab the reaper expired deletes its SSH Service and frees its NodePort', {
  timeout: 300_000,
}, async () => {
  const { info } = await useSandbox();
  const connect = connector(info.redisUrl);
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const prefix = uniqueName('reap-port');
  const redis = connect();
  const store = new EnvironmentStore({ redis, prefix: `${prefix}:` });
  const allocator = new NodePortAllocator({ redis, prefix: `${prefix}:`, range: SHARED_NODE_PORTS });
  const { provisioner, ssh, platform, operatorKey } = simulatedLabs(kube, store);
  closers.push(async () => ssh.close());
  const pools = parsePoolsConfig({ pools: [{ name: prefix, kubernetesVersion: '1.36', workers: 0, min: 0, max: 1 }] });
  let worker: ReturnType<typeof createPoolWorker> | undefined;
  try {
    // Given a lab claimed through a NodePort (as production hands labs out): its port is leased
    const id = uniqueName('e');
    assert.equal(
      await provisioner.provision({ id, pool: prefix, spec: parseLabSpec({ labId: id, kubernetesVersion: '1.36' }) }),
      'ready',
    );
    const access = createLabAccess({
      kube,
      store,
      allocator,
      ssh,
      platform,
      operatorKey,
      publicHost: 'labs.example.test',
    });
    const { environment, connection } = await access.claim({
      pool: prefix,
      learner: 'dee',
      scenario: 'demo',
      ttlMs: 60_000,
    });
    const lease = (await allocator.leases()).find((l) => l.labId === environment.id);
    assert.equal(lease?.port, connection.port, 'the learner was given the leased port');
    const sshService = { apiVersion: 'v1', kind: 'Service', namespace: environment.namespace, name: 'ssh' };
    assert.ok(await kube.get(sshService), 'the SSH Service is open');

    // When its time is up, the reaper releases it and the worker (holding the allocator) tears it down
    worker = createPoolWorker({
      connection: connect,
      redis: connect(),
      store,
      provisioner,
      pools,
      prefix,
      kube,
      allocator,
      now: () => Date.now() + 120_000,
    });
    assert.deepEqual((await worker.tick()).expired, [environment.id]);
    await waitFor(async () => ((await store.get(environment.id)).state === 'deleted' ? true : undefined), {
      what: `lab ${environment.id} torn down`,
      timeoutMs: 60_000,
      intervalMs: 200,
    });

    // Then the port is free for the next lab, and the Service that opened it is gone
    assert.deepEqual(
      (await allocator.leases()).filter((l) => l.labId === environment.id),
      [],
      'no lease left for the torn-down lab',
    );
    assert.equal(await kube.get(sshService), undefined);
  } finally {
    await worker?.close();
    await deleteLabs(kube, store);
  }
});
