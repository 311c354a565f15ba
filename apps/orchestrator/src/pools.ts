import { ConflictError } from '@breakfix/core';
import { countByPool, type EnvironmentStore, emptyCounts } from '@breakfix/pool';
import type { Scenario } from '@breakfix/scenarios';
import type { Redis } from 'ioredis';
import type { PoolConfig } from '../../pool-worker/src/pool-config.js';
import type { PoolStatusBody } from './schemas.js';

/** `1.36.3` and `v1.36` both serve scenarios written for `1.36`. */
const minorOf = (version: string) => version.replace(/^v/, '').split('.').slice(0, 2).join('.');

/**
 * The pools that can serve a scenario: same number of workers as its topology, and a Kubernetes
 * minor the scenario lists. Size does not matter (docs/adr/0009).
 */
export function poolsServing(
  scenario: Pick<Scenario, 'kubernetesVersions' | 'topology'>,
  pools: readonly PoolConfig[],
) {
  return pools.filter(
    (pool) =>
      pool.workers === scenario.topology.workers &&
      scenario.kubernetesVersions.includes(minorOf(pool.kubernetesVersion)),
  );
}

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
    throw new ConflictError(
      `no pool serves scenario ${scenario.id} (Kubernetes ${scenario.kubernetesVersions.join(' or ')}, ${scenario.topology.workers} worker(s))`,
      { hint: 'an operator adds a pool with that version and number of workers to the pools file' },
    );
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
        counts: live,
        waiting: await redis.zcard(`${prefix}pool:${pool.name}:waiting`),
        target: plans[pool.name]?.target ?? null,
        heldBy: plans[pool.name]?.limitedBy ?? null,
        lastFailure: failures[pool.name] ?? null,
      };
    }),
  );
}
