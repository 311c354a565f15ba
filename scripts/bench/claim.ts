import { performance } from 'node:perf_hooks';
import { waitFor } from '@breakfix/core';
import { parsePlatformConfig, parsePoolsConfig } from '@breakfix/manifests';
import {
  createLabAccess,
  createProvisioner,
  createWarmConnections,
  EnvironmentStore,
  NodePortAllocator,
} from '@breakfix/pool';
import { emulatedBootstrap, type Sandbox, startSandbox } from '@breakfix/sandbox';
import { createOperatorKey, generateEd25519 } from '@breakfix/secrets';
import { createSshRunner } from '@breakfix/ssh';
import { Redis } from 'ioredis';
import { createPoolWorker } from '../../apps/pool-worker/src/create-pool-worker.js';
import type { BenchSettings } from '../bench.js';
import { claimRounds, warmPool } from './claim-rounds.js';
import { createTraceCollector, type TraceCollector, untilQuiet } from './claim-trace.js';
import { type Figure, latency, value } from './stats.js';

const POOL = 'warm';

/**
 * The claim path below HTTP (createLabAccess) on the simulator: atomic claim, NodePort Service,
 * the learner's key and the lab key over SSH, a trivial break (`true` through sudo), access
 * recorded. One at a time and `learners` at once, each series `claims` long after a warm-up,
 * with the per-step trace of each. First, how long the pool worker takes to fill `learners` labs
 * with zero boot delay. The provisioner and the claim path each have their own SSH runner, as
 * the pool worker and the orchestrator are separate processes in production: a claim never
 * borrows the connection the readiness probe left open.
 */
export async function* benchClaim(settings: BenchSettings): AsyncGenerator<Figure> {
  const sandbox = await startSandbox({});
  const connections: Redis[] = [];
  const connect = () => {
    const redis = new Redis(sandbox.redisUrl, { maxRetriesPerRequest: null });
    connections.push(redis);
    return redis;
  };
  const provisionerSsh = createSshRunner();
  const runners = [provisionerSsh];
  let warmStop: (() => Promise<void>) | undefined;
  try {
    const operatorKey = createOperatorKey();
    const platform = parsePlatformConfig({ operator: { publicKey: operatorKey.publicKey } });
    const store = new EnvironmentStore({ redis: connect(), prefix: 'bench:' });
    const provisioner = createProvisioner({
      kube: sandbox.kube,
      store,
      ssh: provisionerSsh,
      platform,
      operatorKey,
      probeIntervalMs: 250,
      decorate: emulatedBootstrap,
    });
    const clearPool = async (release?: (id: string) => Promise<unknown>) => {
      for (const env of await store.list()) {
        if (env.pool !== POOL || env.state === 'deleted') continue;
        if (env.state === 'claimed' && release !== undefined) await release(env.id);
        await provisioner.teardown(env.id);
      }
    };

    yield await fillOnce(sandbox, connect, store, provisioner, settings.learners);
    await clearPool();

    let collector: TraceCollector | undefined;
    const claimSsh = createSshRunner({ onConnect: (event) => collector?.handshake(event) });
    runners.push(claimSsh);
    const access = createLabAccess({
      kube: sandbox.kube,
      store,
      allocator: new NodePortAllocator({ redis: connect(), prefix: 'bench:', range: platform.nodePorts }),
      ssh: claimSsh,
      platform,
      operatorKey,
      trace: (event) => collector?.step(event),
    });
    // As the orchestrator does (wire.ts): an operator connection kept open to every ready lab.
    const warm = createWarmConnections({ store, ssh: claimSsh, platform, operatorKey, pools: [POOL] });
    warm.start();
    warmStop = () => warm.stop();
    const learnerKey = generateEd25519('learner@bench').publicKey;
    let next = 0;
    const warmSeconds: number[] = [];
    let warmFailures = 0;
    for (const mode of ['one_at_a_time', 'concurrent'] as const) {
      collector = createTraceCollector({ operator: platform.operator.user, learner: platform.learner.user });
      const samples = await claimRounds({
        sandbox,
        label: `${mode}`,
        claims: settings.claims,
        atOnce: settings.learners,
        mode,
        warmup: settings.warmup,
        warm: (count) => warmPool(provisioner, POOL, count, () => `c${next++}`),
        settle: async () => {
          await warm.settled();
          if (!(await untilQuiet()))
            console.error('claim: the sandbox was still busy 60 s after warming; measuring anyway');
        },
        claim: async (learner) => {
          const { environment } = await access.claim({
            pool: POOL,
            learner,
            scenario: 'trivial',
            ttlMs: 3_600_000,
            publicKey: learnerKey,
            // The key install and the trivial break in one command, as the orchestrator's break does.
            prepare: async (lab) => {
              const cp = lab.nodes.cp;
              if (cp === undefined) throw new Error(`lab ${lab.labId} has no control plane`);
              const result = await claimSsh.exec(cp, `{ ${lab.setup.cp}\n} && true`, { sudo: true, idempotent: true });
              if (result.code !== 0) throw new Error(`trivial break exited ${result.code}`);
            },
            prepareRunsSetup: true,
          });
          return environment.id;
        },
        clear: () => clearPool((id) => access.release(id)),
        measuring: (on) => collector?.record(on),
      });
      warmSeconds.push(...samples.warmSeconds);
      warmFailures += samples.warmFailures;
      const label = mode === 'concurrent' ? `${settings.learners}_concurrent` : mode;
      yield latency(`claim.access.${label} (NodePort Service + learner key + trivial break)`, samples.ms, {
        failures: samples.failures,
      });
      yield value(`claim.access.${label}.failures`, samples.failures, 'claims', { n: samples.ms.length });
      yield* collector.figures(`claim.access.${label}`);
    }
    yield latency(`claim.pool_warm (${settings.learners} labs provisioned at once, zero boot delay)`, warmSeconds, {
      unit: 's',
      failures: warmFailures,
    });
  } finally {
    await warmStop?.();
    for (const runner of runners) runner.close();
    for (const connection of connections) connection.disconnect();
    await sandbox.stop();
  }
}

/** The pool worker's tick filling an empty pool to `labs`, timed once. */
async function fillOnce(
  sandbox: Sandbox,
  connect: () => Redis,
  store: EnvironmentStore,
  provisioner: ReturnType<typeof createProvisioner>,
  labs: number,
): Promise<Figure> {
  const pools = parsePoolsConfig({
    pools: [
      {
        name: POOL,
        kubernetesVersion: '1.36',
        workers: 0,
        size: 'small',
        min: labs,
        max: labs,
        maxConcurrentProvisions: labs,
      },
    ],
  });
  const worker = createPoolWorker({
    connection: connect,
    redis: connect(),
    store,
    provisioner,
    pools,
    prefix: 'bench',
    kube: sandbox.kube,
  });
  const started = performance.now();
  await worker.tick();
  await waitFor(async () => ((await store.readyCount(POOL)) >= labs ? true : undefined), {
    what: `${labs} labs ready`,
    timeoutMs: 600_000,
    intervalMs: 200,
  });
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  return value(`pool.fill.${labs}_labs_zero_boot_delay (pool worker tick to all ready, one run)`, seconds, 's');
}
