import { ConflictError } from '@breakfix/core';
import type { PoolConfig } from '@breakfix/manifests';
import { countByPool, type EnvironmentStore, emptyCounts } from '@breakfix/pool';
import { noPoolMessage, poolsServing, type Scenario } from '@breakfix/scenarios';
import type { Redis } from 'ioredis';
import type { PoolStatusBody } from './schemas.js';

/**
 * The pool a claim draws from: of the pools serving the scenario, the first (in config order)
 * with a ready lab, else the first — where the learner then queues.
 */
export async function poolFor(
  scenario: Scenario,
  pools: readonly PoolConfig[],
  store: Pick<EnvironmentStore, 'readyCount'>,
): Promise<PoolConfig> {
  const serving = poolsServing(scenario, pools);
  if (serving.length === 0) {
    const { message, hint } = noPoolMessage(scenario);
    throw new ConflictError(message, { hint });
  }
  for (const pool of serving) if ((await store.readyCount(pool.name)) > 0) return pool;
  return serving[0] as PoolConfig;
}

/** Every configured pool with its labs counted by state and its queue of waiting learners. */
export async function poolStatus(
  pools: readonly PoolConfig[],
  store: Pick<EnvironmentStore, 'list' | 'poolPlans' | 'poolFailures'>,
  redis: Pick<Redis, 'zcard'>,
  prefix: string,
): Promise<PoolStatusBody[]> {
  const counts = countByPool(await store.list());
  const plans = await store.poolPlans();
  const failures = await store.poolFailures();
  return await Promise.all(
    pools.map(async (pool) => {
      const { deleted: _, ...live } = counts.get(pool.name) ?? emptyCounts();
      return {
        name: pool.name,
        kubernetesVersion: pool.kubernetesVersion,
        workers: pool.workers,
        size: pool.size,
        min: pool.min,
        max: pool.max,
        maxConcurrentProvisions: pool.maxConcurrentProvisions,
        idleMinutes: pool.idleMinutes ?? null,
        counts: live,
        waiting: await redis.zcard(`${prefix}pool:${pool.name}:waiting`),
        target: plans[pool.name]?.target ?? null,
        heldBy: plans[pool.name]?.limitedBy ?? null,
        lastFailure: failures[pool.name] ?? null,
      };
    }),
  );
}
