import { performance } from 'node:perf_hooks';
import { parsePoolsConfig } from '@breakfix/manifests';
import { EnvironmentStore } from '@breakfix/pool';
import { startSandbox } from '@breakfix/sandbox';
import { Redis } from 'ioredis';
import { createPoolWorker } from '../../apps/pool-worker/src/create-pool-worker.js';
import type { Figure } from '../bench.js';
import { percentile, round } from './stats.js';

const READY = 50;
const ENVIRONMENTS = 1000;

/** The Redis side of the pool: claim latency on a warm pool, and a reconcile over 1 000 records. */
export async function* benchPool(): AsyncGenerator<Figure> {
  const sandbox = await startSandbox({ simulator: false });
  const connections: Redis[] = [];
  const connect = () => {
    const redis = new Redis(sandbox.redisUrl, { maxRetriesPerRequest: null });
    connections.push(redis);
    return redis;
  };
  try {
    const store = new EnvironmentStore({ redis: connect(), prefix: 'bench:' });
    for (let i = 0; i < READY; i++) {
      await store.create({ id: `r${i}`, pool: 'warm', namespace: `lab-r${i}` });
      await store.apply(`r${i}`, 'provisioned');
    }
    const latencies: number[] = [];
    await Promise.all(
      Array.from({ length: READY }, async (_, i) => {
        const started = performance.now();
        await store.claim({ pool: 'warm', learner: `l${i}`, scenario: 's', ttlMs: 3_600_000 });
        latencies.push(performance.now() - started);
      }),
    );
    yield {
      name: `pool.claim.redis_only.p50 (${READY} concurrent, the atomic Redis step alone)`,
      value: round(percentile(latencies, 50), 2),
      unit: 'ms',
    };
    yield {
      name: `pool.claim.redis_only.p99 (${READY} concurrent, the atomic Redis step alone)`,
      value: round(percentile(latencies, 99), 2),
      unit: 'ms',
    };

    const pipeline = connect().pipeline();
    const now = Date.now() - 3_600_000;
    for (let i = 0; i < ENVIRONMENTS; i++) {
      pipeline.hset(`bench:env:o${i}`, {
        id: `o${i}`,
        pool: 'big',
        namespace: `lab-o${i}`,
        state: 'ready',
        createdAt: now,
        updatedAt: now,
      });
    }
    await pipeline.exec();
    const pools = parsePoolsConfig({ pools: [{ name: 'big', kubernetesVersion: '1.36', workers: 0, min: 0, max: 1 }] });
    const provisioner = {
      provision: async () => 'skipped' as const,
      teardown: async () => {},
      namespaceFor: (id: string) => `lab-${id}`,
    };
    const worker = createPoolWorker({
      connection: connect,
      redis: connect(),
      store,
      provisioner,
      pools,
      prefix: 'bench',
      kube: sandbox.kube,
    });
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const result = await worker.reconcile();
    yield {
      name: `pool.reconcile.${ENVIRONMENTS}_orphan_records (${result.orphanRecords.length} closed)`,
      value: round(performance.now() - started),
      unit: 'ms',
    };
    yield { name: 'pool.reconcile.rss_after', value: round(process.memoryUsage().rss / 1048576), unit: 'MiB' };
    yield {
      name: 'pool.reconcile.rss_growth',
      value: round((process.memoryUsage().rss - rssBefore) / 1048576),
      unit: 'MiB',
    };
    await worker.close();
  } finally {
    for (const connection of connections) connection.disconnect();
    await sandbox.stop();
  }
}
