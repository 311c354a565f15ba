import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { createKube, type KubeObject } from '@breakfix/kube';
import { parsePoolsConfig } from '@breakfix/manifests';
import { EnvironmentStore, PoolExhaustedError, requestTopUp } from '@breakfix/pool';
import { uniqueName, useSandbox } from '@breakfix/testkit';
import { Redis } from 'ioredis';
import { deleteLabs, simulatedLabs } from '../../../packages/pool/test/simulated-labs.js';
import { createPoolWorker } from '../src/create-pool-worker.js';

const connections: Redis[] = [];
after(() => {
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

test('a pool fills to min; a claim takes from it; the next tick replaces it; release tears the lab down', async () => {
  const { info } = await useSandbox();
  const connect = connector(info.redisUrl);
  const prefix = uniqueName('pw');
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const store = new EnvironmentStore({ redis: connect(), prefix: `${prefix}:` });
  const { provisioner } = simulatedLabs(kube, store);
  const pools = parsePoolsConfig({
    pools: [
      {
        name: prefix,
        kubernetesVersion: '1.36',
        workers: 1,
        size: 'small',
        min: 2,
        max: 3,
        maxConcurrentProvisions: 2,
      },
    ],
  });
  const worker = createPoolWorker({ connection: connect, redis: connect(), store, provisioner, pools, prefix, kube });
  try {
    // Given an empty pool, when the tick runs, then it fills to min
    const first = await worker.tick();
    assert.equal(first.enqueued.length, 2);
    assert.deepEqual(
      await worker.tick(),
      { ran: true, enqueued: [], expired: [], held: [] },
      'booting labs count towards min',
    );
    await waitFor(async () => ((await store.readyCount(prefix)) === 2 ? true : undefined), {
      what: 'two ready labs',
      timeoutMs: 60_000,
      intervalMs: 200,
    });

    // When a learner claims one, the next tick provisions a replacement (max 3 allows it)
    const claimed = await store.claim({ pool: prefix, learner: 'ada', scenario: 'demo', ttlMs: 60_000 });
    const refill = await worker.tick();
    assert.equal(refill.enqueued.length, 1);
    await waitFor(async () => ((await store.readyCount(prefix)) === 2 ? true : undefined), {
      what: 'the pool back at min',
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    assert.equal((await worker.tick()).enqueued.length, 0, 'at max (2 ready + 1 claimed): nothing more');
    // The metrics of the last tick; a job's duration is recorded just after its lab turns ready.
    const exposition = await waitFor(
      async () => {
        const text = await worker.metrics.registry.metrics();
        return text.includes(`breakfix_provision_duration_seconds_count{pool="${prefix}",outcome="ready"} 3`)
          ? text
          : undefined;
      },
      { what: 'three provisions in the metrics', timeoutMs: 5_000 },
    );
    assert.match(exposition, new RegExp(`breakfix_pool_environments\\{pool="${prefix}",state="ready"\\} 2`));
    assert.match(exposition, new RegExp(`breakfix_pool_environments\\{pool="${prefix}",state="claimed"\\} 1`));

    // When its TTL passes, the reaper releases the lab and it is torn down: namespace gone, record deleted
    const later = createPoolWorker({
      connection: connect,
      redis: connect(),
      store,
      provisioner,
      pools,
      prefix,
      kube,
      now: () => Date.now() + 120_000,
    });
    try {
      assert.deepEqual((await later.tick()).expired, [claimed.id]);
    } finally {
      await later.close();
    }
    await waitFor(async () => ((await store.get(claimed.id)).state === 'deleted' ? true : undefined), {
      what: 'the released lab deleted',
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    await waitFor(
      async () =>
        (await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: claimed.namespace })) ? undefined : true,
      {
        what: `namespace ${claimed.namespace} gone`,
        timeoutMs: 30_000,
      },
    );
  } finally {
    await worker.close();
    await deleteLabs(kube, store);
  }
});

test('two replicas ticking at once: only one runs the tick', async () => {
  const { info } = await useSandbox();
  const connect = connector(info.redisUrl);
  const prefix = uniqueName('pw');
  const store = new EnvironmentStore({ redis: connect(), prefix: `${prefix}:` });
  const provisioner = {
    provision: async () => 'skipped' as const,
    teardown: async () => {},
    namespaceFor: (id: string) => `lab-${id}`,
    instance: prefix,
  };
  const pools = parsePoolsConfig({ pools: [{ name: prefix, kubernetesVersion: '1.36', workers: 0, min: 1, max: 1 }] });
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const replicas = [1, 2].map(() =>
    createPoolWorker({ connection: connect, redis: connect(), store, provisioner, pools, prefix, kube }),
  );
  try {
    const results = await Promise.all(replicas.map((r) => r.tick()));
    assert.deepEqual(results.map((r) => r.ran).sort(), [false, true]);
    assert.equal(results.flatMap((r) => r.enqueued).length, 1);
  } finally {
    await Promise.all(replicas.map((r) => r.close()));
  }
});

test('a pools file with a mistake names the pool and field', () => {
  assert.throws(
    () => parsePoolsConfig({ pools: [{ name: 'a', kubernetesVersion: '1.36', workers: 9, min: 4, max: 2 }] }),
    /pools\.0\.workers: .*; pools\.0\.min: min must not exceed max|pools\.0\.workers/,
  );
  assert.throws(
    () =>
      parsePoolsConfig({
        pools: [
          { name: 'a', kubernetesVersion: '1.36', workers: 0, min: 1, max: 1 },
          { name: 'a', kubernetesVersion: '1.35', workers: 0, min: 1, max: 1 },
        ],
      }),
    /pool "a" is defined twice/,
  );
});

test('the reconciler deletes a lab namespace nobody holds and closes a record whose namespace is gone', async () => {
  const { info } = await useSandbox();
  const connect = connector(info.redisUrl);
  const prefix = uniqueName('pw');
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const store = new EnvironmentStore({ redis: connect(), prefix: `${prefix}:` });
  const provisioner = {
    provision: async () => 'skipped' as const,
    teardown: async () => {},
    namespaceFor: (id: string) => `lab-${id}`,
    instance: prefix,
  };
  const pools = parsePoolsConfig({ pools: [{ name: prefix, kubernetesVersion: '1.36', workers: 0, min: 0, max: 1 }] });
  const worker = createPoolWorker({
    connection: connect,
    redis: connect(),
    store,
    provisioner,
    pools,
    prefix,
    kube,
    now: () => Date.now() + 120_000,
  });
  try {
    // An orphan namespace: a lab's labels, no record
    const orphan = `lab-${uniqueName('orphan')}`;
    await kube.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: orphan,
        labels: {
          'app.kubernetes.io/managed-by': 'breakfix',
          'breakfix.dev/lab': 'orphan',
          'breakfix.dev/instance': prefix,
        },
      },
    });
    // An orphan record: ready in Redis, no namespace in the cluster
    await store.create({ id: 'lost', pool: prefix, namespace: `lab-${uniqueName('gone')}` });
    await store.apply('lost', 'provisioned');

    const result = await worker.reconcile();
    assert.ok(result.orphanNamespaces.includes(orphan));
    assert.deepEqual(result.orphanRecords, ['lost']);
    assert.equal((await store.get('lost')).state, 'deleted');
    assert.equal(await store.readyCount(prefix), 0);
    await waitFor(
      async () => ((await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: orphan })) ? undefined : true),
      {
        what: 'the orphan namespace gone',
        timeoutMs: 30_000,
      },
    );
  } finally {
    await worker.close();
  }
});

test('a lab that never becomes ready is failed and deleted; the pool backs off, then replaces it', async () => {
  const { info } = await useSandbox();
  const connect = connector(info.redisUrl);
  const prefix = uniqueName('pw');
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const store = new EnvironmentStore({ redis: connect(), prefix: `${prefix}:` });
  // Every VM of this pool boots but its guest never answers SSH.
  const noSsh = (objects: KubeObject[]) =>
    objects.map((o) =>
      o.kind === 'VirtualMachine'
        ? { ...o, metadata: { ...o.metadata, annotations: { 'sim.breakfix.dev/fault': 'no-ssh' } } }
        : o,
    );
  const { provisioner } = simulatedLabs(kube, store, {
    sshOptions: { connectTimeoutMs: 1_000 },
    vmsRunningTimeoutMs: 20_000,
    readyTimeoutMs: 2_000,
    decorate: noSsh,
  });
  const pools = parsePoolsConfig({ pools: [{ name: prefix, kubernetesVersion: '1.36', workers: 0, min: 1, max: 2 }] });
  let clock = Date.now();
  const worker = createPoolWorker({
    connection: connect,
    redis: connect(),
    store,
    provisioner,
    pools,
    prefix,
    kube,
    backoff: { baseMs: 60_000, maxMs: 600_000 },
    now: () => clock,
  });
  try {
    const [first] = (await worker.tick()).enqueued;
    assert.ok(first);
    await waitFor(async () => ((await store.get(first.id)).state === 'deleted' ? true : undefined), {
      what: 'the never-ready lab failed and deleted',
      timeoutMs: 40_000,
      intervalMs: 200,
    });
    await waitFor(
      async () =>
        (await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: `lab-${first.id}` })) ? undefined : true,
      {
        what: 'its namespace gone',
        timeoutMs: 30_000,
      },
    );
    // Right after a failure the pool pauses instead of booting into the same fault again
    const paused = await worker.tick();
    assert.deepEqual(paused.enqueued, []);
    assert.deepEqual(paused.held, [{ pool: prefix, target: 1, limitedBy: 'backoff' }]);
    // and says so where the API and the dashboard read it
    const plan = (await store.poolPlans())[prefix];
    assert.equal(plan?.limitedBy, 'backoff');
    assert.ok((plan?.backoffUntil ?? 0) > clock, 'with when the pause ends');
    // and why the lab failed, for `labctl pools` and the dashboard
    const failure = (await store.poolFailures())[prefix];
    assert.equal(failure?.lab, first.id);
    assert.match(failure?.reason ?? '', /ready/);
    // Once the pause is over, the next tick replaces the lab
    clock += 60_001;
    const replacement = (await worker.tick()).enqueued;
    assert.equal(replacement.length, 1);
    assert.notEqual(replacement[0]?.id, first.id);
  } finally {
    await worker.close();
    await deleteLabs(kube, store);
  }
});

test('a lab whose bootstrap reports failure is failed at once, with the bootstrap’s reason', async () => {
  const { info } = await useSandbox();
  const connect = connector(info.redisUrl);
  const prefix = uniqueName('pw');
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const store = new EnvironmentStore({ redis: connect(), prefix: `${prefix}:` });
  // Every VM of this pool boots, and its (emulated) bootstrap writes the failed marker
  const bootstrapFails = (objects: KubeObject[]) =>
    objects.map((o) =>
      o.kind === 'VirtualMachine'
        ? { ...o, metadata: { ...o.metadata, annotations: { 'sim.breakfix.dev/fault': 'bootstrap-fails' } } }
        : o,
    );
  const { provisioner } = simulatedLabs(kube, store, { readyTimeoutMs: 600_000, decorate: bootstrapFails });
  const pools = parsePoolsConfig({ pools: [{ name: prefix, kubernetesVersion: '1.36', workers: 0, min: 1, max: 1 }] });
  const worker = createPoolWorker({ connection: connect, redis: connect(), store, provisioner, pools, prefix, kube });
  try {
    const [lab] = (await worker.tick()).enqueued;
    assert.ok(lab);
    // within 2 minutes, long before the 10-minute readiness deadline: a failed bootstrap is final
    await waitFor(async () => ((await store.get(lab.id)).state === 'deleted' ? true : undefined), {
      what: 'the lab failed and deleted',
      timeoutMs: 120_000,
      intervalMs: 200,
    });
    assert.match((await store.poolFailures())[prefix]?.reason ?? '', /simulated: kubeadm init failed/);
  } finally {
    await worker.close();
    await deleteLabs(kube, store);
  }
});

test('a claim that finds its pool empty wakes the worker, which boots a lab for the waiting learner', async () => {
  const { info } = await useSandbox();
  const connect = connector(info.redisUrl);
  const prefix = uniqueName('wake');
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const store = new EnvironmentStore({ redis: connect(), prefix: `${prefix}:` });
  const { provisioner } = simulatedLabs(kube, store);
  // Given a pool kept empty (min 0) and a worker listening on the wake channel, with no cron
  const pools = parsePoolsConfig({
    pools: [{ name: prefix, kubernetesVersion: '1.36', workers: 0, size: 'small', min: 0, max: 2 }],
  });
  const subscriber = connect();
  const worker = createPoolWorker({
    connection: connect,
    redis: connect(),
    store,
    provisioner,
    pools,
    prefix,
    kube,
    subscriber,
  });
  try {
    const publisher = connect();
    await waitFor(async () => ((await publisher.pubsub('NUMSUB', `${prefix}:wake`))[1] === 1 ? true : undefined), {
      what: 'the worker subscribed',
      timeoutMs: 5_000,
      intervalMs: 50,
    });
    // When a learner finds it empty and the claim asks for a top-up
    await assert.rejects(
      store.claim({ pool: prefix, learner: 'wanda', scenario: 'demo', ttlMs: 60_000 }),
      PoolExhaustedError,
    );
    await requestTopUp(publisher, prefix, prefix);
    // Then a lab boots for her without waiting for a cron tick, and her next claim gets it
    await waitFor(async () => ((await store.readyCount(prefix)) === 1 ? true : undefined), {
      what: 'a lab for the waiting learner',
      timeoutMs: 120_000,
      intervalMs: 200,
    });
    assert.equal(
      (await store.claim({ pool: prefix, learner: 'wanda', scenario: 'demo', ttlMs: 60_000 })).state,
      'claimed',
    );
  } finally {
    await worker.close();
    await deleteLabs(kube, store);
  }
});
