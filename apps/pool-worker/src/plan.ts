import type { PoolConfig } from '@breakfix/manifests';
import type { StateCounts } from '@breakfix/pool';

/** Why a pool got fewer new labs than its target asks for. */
export type TopUpLimit = 'max' | 'concurrency' | 'capacity' | 'backoff';

export interface TopUpInput {
  pool: PoolConfig;
  counts: StateCounts;
  /** Learners queued for this pool right now. */
  waiting: number;
  now: number;
  /** Provisioning of this pool is paused until then after repeated failures. */
  backoffUntil?: number;
  /** How many more labs of this pool's shape the host cluster can hold; Infinity when unchecked. */
  capacityLabs: number;
}

export interface TopUpPlan {
  /** Ready + booting labs the pool aims for: its (scheduled) min plus queued learners, within max. */
  target: number;
  /** New labs to provision now. */
  provision: number;
  /** Set when something other than the target kept `provision` down. */
  limitedBy?: TopUpLimit;
}

/** The pool's `min` at `now`: the highest scheduled window that is open, else the base min. */
export function scheduledMin(pool: PoolConfig, now: number): number {
  return pool.schedule
    .filter((w) => Date.parse(w.from) <= now && now < Date.parse(w.to))
    .reduce((min, w) => Math.max(min, w.min), pool.min);
}

/**
 * How many labs to provision for one pool in one tick. Pure: the tick gathers the inputs.
 * Learners waiting count on top of min (an empty pool asks for one lab per queued learner);
 * live labs never exceed max; booting labs never exceed maxConcurrentProvisions; the host's
 * free capacity and a failure backoff can hold it back further.
 */
export function planTopUp(input: TopUpInput): TopUpPlan {
  const { pool, counts } = input;
  const live = counts.ready + counts.provisioning + counts.claimed;
  const target = Math.min(pool.max, scheduledMin(pool, input.now) + input.waiting);
  const wanted = Math.max(0, target - counts.ready - counts.provisioning);
  if (wanted === 0) return { target, provision: 0 };
  const limits: [TopUpLimit, number][] = [
    ['max', pool.max - live],
    ['concurrency', pool.maxConcurrentProvisions - counts.provisioning],
    ['capacity', input.capacityLabs],
    ['backoff', input.backoffUntil !== undefined && input.now < input.backoffUntil ? 0 : Number.POSITIVE_INFINITY],
  ];
  let provision = wanted;
  let limitedBy: TopUpLimit | undefined;
  for (const [name, limit] of limits) {
    const allowed = Math.max(0, Math.floor(limit));
    if (allowed < provision) {
      provision = allowed;
      limitedBy = name;
    }
  }
  return limitedBy === undefined ? { target, provision } : { target, provision, limitedBy };
}
