import { performance } from 'node:perf_hooks';
import { EnvironmentStore } from '@breakfix/pool';
import { startSandbox } from '@breakfix/sandbox';
import { Redis } from 'ioredis';
import type { BenchSettings } from '../bench.js';
import { type Figure, latency } from './stats.js';

/**
 * The Redis side of the pool: the atomic claim alone (one at a time, and `learners` at once on
 * one connection, as the orchestrator's store has one), each series `claims` long in rounds on a
 * freshly filled pool after a warm-up. The worker's reconcile and tick at scale are the `scale`
 * group's (scale.ts), measured in the worker's own process.
 */
export async function* benchPool(settings: BenchSettings): AsyncGenerator<Figure> {
  const sandbox = await startSandbox({ simulator: false });
  const connections: Redis[] = [];
  const connect = () => {
    const redis = new Redis(sandbox.redisUrl, { maxRetriesPerRequest: null });
    connections.push(redis);
    return redis;
  };
  try {
    const store = new EnvironmentStore({ redis: connect(), prefix: 'bench:' });
    let next = 0;
    const fill = async (pool: string, count: number) => {
      for (let i = 0; i < count; i++) {
        const id = `r${next++}`;
        await store.create({ id, pool, namespace: `lab-${id}` });
        await store.apply(id, 'provisioned');
      }
    };
    const claimOne = async (pool: string, samples: number[] | undefined) => {
      const started = performance.now();
      await store.claim({ pool, learner: `l${next++}`, scenario: 's', ttlMs: 3_600_000 });
      samples?.push(performance.now() - started);
    };

    await fill('warmup', settings.warmup);
    for (let i = 0; i < settings.warmup; i++) await claimOne('warmup', undefined);

    const oneAtATime: number[] = [];
    const together: number[] = [];
    for (let done = 0, round = 0; done < settings.claims; round++) {
      const size = Math.min(settings.learners, settings.claims - done);
      await fill(`seq${round}`, size);
      for (let i = 0; i < size; i++) await claimOne(`seq${round}`, oneAtATime);
      await fill(`burst${round}`, size);
      await Promise.all(Array.from({ length: size }, () => claimOne(`burst${round}`, together)));
      done += size;
    }
    yield latency('pool.claim.redis_only.one_at_a_time (the atomic Redis step alone)', oneAtATime, { digits: 2 });
    yield latency(
      `pool.claim.redis_only.${settings.learners}_concurrent (the atomic Redis step alone, one connection)`,
      together,
      { digits: 2 },
    );
  } finally {
    for (const connection of connections) connection.disconnect();
    await sandbox.stop();
  }
}
