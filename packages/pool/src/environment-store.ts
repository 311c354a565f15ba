import {
  BreakfixError,
  ConflictError,
  type EnvironmentEvent,
  type EnvironmentState,
  InvalidInputError,
  NotFoundError,
  TRANSITIONS,
} from '@breakfix/core';
import type { Redis } from 'ioredis';
import { type LabEndReason, publishLabEvent } from './lab-activity.js';

export interface Environment {
  id: string;
  pool: string;
  namespace: string;
  state: EnvironmentState;
  createdAt: number;
  updatedAt: number;
  learner?: string;
  scenario?: string;
  claimedAt?: number;
  expiresAt?: number;
  /** Pinned SSH host public keys, by node name. */
  hostKeys?: Record<string, string>;
  /** How the learner reaches the lab, once claimed (never a private key). */
  access?: LabAccessDetails;
  /** Set when breakfix lost touch with the lab (a dropped connection, a changed host key). */
  attention?: { reason: string; at: number };
  /**
   * The uid of each node's VMI when the lab became ready, by node name. A VMI with another uid is
   * a new boot from a fresh containerDisk: not the lab that was checked (see lab-health.ts).
   */
  vmis?: Record<string, string>;
  /**
   * Where each node's VM was reached when the lab became ready (its address on the pod network
   * and the host node running it), by node name: claims connect there without reading the VMIs.
   */
  nodes?: Record<string, LabNode>;
  /** When the learner last extended the lab (an extension is activity: it resets idleness). */
  extendedAt?: number;
  /** Set while the learner is warned that the lab is idle, with when it goes unless they come back. */
  idle?: { warnedAt: number; releaseAt: number };
  /** Why and when a claimed lab ended (set by whichever path released it). */
  ended?: { reason: LabEndReason; at: number };
}

/** A node of a ready lab as the provisioner found it. */
export interface LabNode {
  address: string;
  /** The host node running the VM, once scheduled. */
  nodeName?: string;
}

/** Where a learner's SSH command points; recorded at claim so status calls can repeat it. */
export interface LabAccessDetails {
  host: string;
  port: number;
  user: string;
  /** A `known_hosts` line for the control plane's pinned host key. */
  knownHosts: string;
  /** The NodePort leased for the lab, when learners come in through one. */
  nodePort?: number;
  /** SHA256 fingerprint of the learner's installed public key. */
  learnerKeyFingerprint?: string;
  /** The browser terminal's per-claim private key, sealed (packages/secrets sealSecret, the lab id as context). */
  terminalKey?: string;
}

/** What the pool worker's last tick aimed for in a pool, and what held it back. */
export interface PoolPlanStatus {
  /** Ready + booting labs the pool aims for (scheduled min plus queued learners, within max). */
  target: number;
  /** Why fewer labs were started than the target asks for: max, concurrency, capacity or backoff. */
  limitedBy?: string;
  /** Failed provisions pause the pool until then. */
  backoffUntil?: number;
  at: number;
}

/** The last provision of a pool that failed, and why (what the operator reads first). */
export interface PoolFailure {
  lab: string;
  reason: string;
  at: number;
}

/** What the reaper's `expire` found: released now, extended meanwhile, or no longer claimed. */
export type ExpireOutcome =
  | { outcome: 'expired' }
  | { outcome: 'extended'; expiresAt: number }
  | { outcome: 'not-claimed'; state?: EnvironmentState };

/** The lab cannot be extended further: it reached its maximum lifetime. */
export class ExtendLimitError extends ConflictError {
  constructor(id: string, maxExpiresAt: number) {
    super(`lab ${id} cannot be extended past ${new Date(maxExpiresAt).toISOString()}`, {
      hint: 'finish up, or release it and start a new lab',
    });
  }
}

/** No ready environment in the pool; the learner is queued. */
export class PoolExhaustedError extends BreakfixError {
  readonly pool: string;
  /** 1 for the first learner waiting. */
  readonly queuePosition: number;
  /** Environments of the pool being provisioned right now. */
  readonly provisioning: number;

  constructor(pool: string, queuePosition: number, provisioning: number) {
    super('pool_exhausted', `no ready lab in pool ${pool}; you are number ${queuePosition} in the queue`, {
      hint: provisioning > 0 ? `${provisioning} lab(s) are booting now` : 'a lab is being provisioned for you',
    });
    this.pool = pool;
    this.queuePosition = queuePosition;
    this.provisioning = provisioning;
  }
}

/** The learner already holds a lab: one active lab per learner. */
export class LearnerHasLabError extends ConflictError {
  readonly environmentId: string;

  constructor(learner: string, environmentId: string) {
    super(`learner ${learner} already has lab ${environmentId}`, {
      hint: 'release it first (/lab stop), or keep using it',
    });
    this.environmentId = environmentId;
  }
}

/** Lua table of allowed transitions, generated from @breakfix/core's TRANSITIONS. */
const LUA_TRANSITIONS = `local transitions = {${Object.entries(TRANSITIONS)
  .map(
    ([event, moves]) =>
      `${event} = {${Object.entries(moves)
        .map(([from, to]) => `${from} = '${to}'`)
        .join(', ')}}`,
  )
  .join(', ')}}`;

/**
 * A Lua function `move(event, now)` over KEYS 1 env hash, 2 ready zset of the pool, 3 learner key
 * (or a dummy), 4 provisioning set: applies a transition; returns the new state or an error reply
 * `BADMOVE <state>` / `NOENV`. Shared by every script that changes a state.
 */
const MOVE_FUNCTION = `${LUA_TRANSITIONS}
local function move(event, now, reason)
  local state = redis.call('HGET', KEYS[1], 'state')
  if not state then return redis.error_reply('NOENV') end
  local next = transitions[event][state]
  if not next then return redis.error_reply('BADMOVE ' .. state) end
  redis.call('HSET', KEYS[1], 'state', next, 'updatedAt', now)
  local id = redis.call('HGET', KEYS[1], 'id')
  if next == 'ready' then redis.call('ZADD', KEYS[2], now, id) else redis.call('ZREM', KEYS[2], id) end
  if next ~= 'provisioning' then redis.call('SREM', KEYS[4], id) end
  if event == 'release' then
    redis.call('HSET', KEYS[1], 'endReason', reason or 'released', 'endedAt', now)
    redis.call('HDEL', KEYS[1], 'idleWarnedAt', 'idleReleaseAt')
    local learner = redis.call('HGET', KEYS[1], 'learner')
    if learner and redis.call('GET', KEYS[3]) == id then redis.call('DEL', KEYS[3]) end
  end
  return next
end
`;

/**
 * KEYS: as MOVE_FUNCTION. ARGV: event, now, end reason (for a release), how long a deleted record
 * is kept (ms). Applies a transition atomically; a record that becomes deleted expires then.
 */
const MOVE = `${MOVE_FUNCTION}
local next = move(ARGV[1], ARGV[2], ARGV[3])
if next == 'deleted' then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return next
`;

/**
 * KEYS: as MOVE_FUNCTION. ARGV: now. The reaper's release, decided inside Redis: only a lab that
 * is still claimed and whose expiry is at or before `now` is released, so an extend or a release
 * that landed after the reaper read its list wins. Returns {'expired'} | {'extended', expiresAt} |
 * {'not-claimed', state or ''}.
 */
const EXPIRE = `${MOVE_FUNCTION}
local now = tonumber(ARGV[1])
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'claimed' then return {'not-claimed', state or ''} end
local expires = tonumber(redis.call('HGET', KEYS[1], 'expiresAt'))
-- A claimed lab without an expiry never expires (as the reaper's own filter reads it).
if expires == nil then return {'extended', ''} end
if expires > now then return {'extended', tostring(expires)} end
move('release', ARGV[1], 'expired')
return {'expired'}
`;

/**
 * KEYS: 1 env hash. ARGV: now, byMs, maxTotalMs. Pushes a claimed lab's expiry out by `byMs`
 * (from now if it is already past), capped at claimedAt + maxTotalMs.
 * Returns {'ok', expiresAt} | {'limit', cap} | error NOENV / BADSTATE <state>.
 */
const EXTEND = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return redis.error_reply('NOENV') end
if state ~= 'claimed' then return redis.error_reply('BADSTATE ' .. state) end
local now, by, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local expires = tonumber(redis.call('HGET', KEYS[1], 'expiresAt'))
local cap = tonumber(redis.call('HGET', KEYS[1], 'claimedAt')) + max
if expires >= cap then return {'limit', tostring(cap)} end
local next = math.min(math.max(expires, now) + by, cap)
redis.call('HSET', KEYS[1], 'expiresAt', next, 'updatedAt', now, 'extendedAt', now)
return {'ok', tostring(next)}
`;

/**
 * KEYS: as MOVE_FUNCTION, 5 the lab's last-activity key (lab-activity.ts). ARGV: now, idleMs.
 * The idle reaper's release, decided inside Redis on what it holds now: only a lab that is still
 * claimed, was warned, is past the release time of its warning, and has had no activity (nor a
 * claim or an extension) for idleMs is released; activity that landed after the reaper looked wins.
 * Returns {'idle', last} | {'active', last} | {'not-warned', ''} | {'not-claimed', state or ''}.
 */
const RELEASE_IDLE = `${MOVE_FUNCTION}
local now, idle = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'claimed' then return {'not-claimed', state or ''} end
local releaseAt = tonumber(redis.call('HGET', KEYS[1], 'idleReleaseAt'))
if releaseAt == nil or releaseAt > now then return {'not-warned', ''} end
local last = math.max(tonumber(redis.call('HGET', KEYS[1], 'claimedAt')) or 0,
  tonumber(redis.call('HGET', KEYS[1], 'extendedAt')) or 0, tonumber(redis.call('GET', KEYS[5])) or 0)
if now - last < idle then return {'active', tostring(last)} end
move('release', ARGV[1], 'idle')
return {'idle', tostring(last)}
`;

/** KEYS: 1 env hash. ARGV: warnedAt, releaseAt. Records an idle warning on a lab that is still claimed. */
const WARN_IDLE = `
if redis.call('HGET', KEYS[1], 'state') ~= 'claimed' then return 0 end
redis.call('HSET', KEYS[1], 'idleWarnedAt', ARGV[1], 'idleReleaseAt', ARGV[2])
return 1
`;

/** What the idle reaper's `releaseIdle` found. */
export type IdleReleaseOutcome =
  | { outcome: 'idle'; lastActivity: number }
  | { outcome: 'active'; lastActivity: number }
  | { outcome: 'not-warned' }
  | { outcome: 'not-claimed'; state?: EnvironmentState };

/**
 * KEYS: 1 ready zset, 2 learner key, 3 waiting zset, 4 provisioning set, 5 arrival counter of the pool,
 * 6 when each waiting learner last asked.
 * ARGV: learner, scenario, now, ttlMs, env key prefix.
 * Returns {'claimed', id} | {'held', id} | {'empty', position, provisioning}.
 */
/** KEYS: env hash, the pool's provisioning set. ARGV: id, pool, namespace, now. A no-op when the id exists. */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'pool', ARGV[2], 'namespace', ARGV[3], 'state', 'provisioning',
  'createdAt', ARGV[4], 'updatedAt', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`;

const CLAIM = `${LUA_TRANSITIONS}
local learner, scenario, now, ttl, prefix = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local held = redis.call('GET', KEYS[2])
if held then return {'held', held} end
while true do
  local popped = redis.call('ZPOPMIN', KEYS[1])
  if #popped == 0 then break end
  local id = popped[1]
  local key = prefix .. id
  if transitions.claim[redis.call('HGET', key, 'state') or ''] then
    redis.call('HSET', key, 'state', 'claimed', 'learner', learner, 'scenario', scenario,
      'claimedAt', now, 'expiresAt', now + ttl, 'updatedAt', now)
    redis.call('SET', KEYS[2], id)
    redis.call('ZREM', KEYS[3], learner)
    redis.call('ZREM', KEYS[6], learner)
    return {'claimed', id, redis.call('HGETALL', key)}
  end
end
-- Arrival order, not the clock: learners arriving in the same millisecond still queue in order.
if not redis.call('ZSCORE', KEYS[3], learner) then redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[5]), learner) end
-- When the learner last asked: learners who stop asking leave the queue (pruneWaiting).
redis.call('ZADD', KEYS[6], now, learner)
return {'empty', redis.call('ZRANK', KEYS[3], learner) + 1, redis.call('SCARD', KEYS[4])}
`;

/**
 * The Redis keys the store writes under `prefix`, in one place: the store, its Lua scripts' callers
 * and anything that checks the store's keys against its records (test/redis-kill.test.ts) agree.
 */
export function environmentKeys(prefix = 'breakfix:') {
  return {
    /** HASH of one environment record. */
    env: (id: string) => `${prefix}env:${id}`,
    /** ZSET of a pool's ready environment ids, by when they became ready. */
    ready: (pool: string) => `${prefix}pool:${pool}:ready`,
    /** ZSET of learners queued for a pool, by arrival number. */
    waiting: (pool: string) => `${prefix}pool:${pool}:waiting`,
    /** Counter handing out the arrival numbers of `waiting`. */
    waitingSeq: (pool: string) => `${prefix}pool:${pool}:waiting:seq`,
    /** ZSET of when each queued learner last asked. */
    waitingSeen: (pool: string) => `${prefix}pool:${pool}:waiting:seen`,
    /** SET of a pool's environment ids being provisioned. */
    provisioning: (pool: string) => `${prefix}pool:${pool}:provisioning`,
    /** STRING: the id of the environment a learner holds. */
    learner: (learner: string) => `${prefix}learner:${learner}`,
    /** HASH pool -> the pool worker's latest plan (JSON). */
    poolPlans: `${prefix}pool-plans`,
    /** HASH pool -> the latest failed provision (JSON). */
    poolFailures: `${prefix}pool-failures`,
  };
}

export interface EnvironmentStoreOptions {
  redis: Redis;
  /** Key prefix. Default `breakfix:`. */
  prefix?: string;
  now?: () => number;
  /**
   * How long a deleted record stays readable (the API's history of a lab) before Redis drops it.
   * Every tick and reconcile reads every record, so records that are never dropped make each of
   * them slower and the worker bigger as the platform ages (docs/adr/0028). Default 7 days.
   */
  deletedRetentionMs?: number;
  /**
   * Prefix of the lab-events channel (lab-activity.ts) the `ended` event of every release goes
   * out on. Default: the key prefix without its trailing colon (`breakfix`).
   */
  eventsPrefix?: string;
}

/**
 * Environments in Redis: who holds what. Every change of state goes through one Lua script that
 * checks the transition table, so a ready set, a learner's lab and an environment's state never
 * disagree, and the atomic claim can never give one environment to two learners.
 */
export class EnvironmentStore {
  readonly #redis: Redis;
  readonly #keys: ReturnType<typeof environmentKeys>;
  readonly #now: () => number;
  readonly #eventsPrefix: string;
  readonly #deletedRetentionMs: number;

  constructor(options: EnvironmentStoreOptions) {
    this.#redis = options.redis;
    const prefix = options.prefix ?? 'breakfix:';
    this.#keys = environmentKeys(prefix);
    this.#now = options.now ?? Date.now;
    this.#eventsPrefix = options.eventsPrefix ?? prefix.replace(/:$/, '');
    this.#deletedRetentionMs = options.deletedRetentionMs ?? 7 * 24 * 3_600_000;
    if (!Number.isInteger(this.#deletedRetentionMs) || this.#deletedRetentionMs < 1) {
      throw new InvalidInputError(`deletedRetentionMs ${this.#deletedRetentionMs}: expected a whole number of ms >= 1`);
    }
  }

  /**
   * Tells open terminals (and anyone listening) that a claimed lab ended. Pub/sub is fire and
   * forget: the record already says why it ended, so a lost event costs a banner, not the truth.
   */
  async #ended(env: Environment, reason: LabEndReason, lastActivity?: number): Promise<void> {
    const minutes = lastActivity === undefined ? 0 : Math.floor((this.#now() - lastActivity) / 60_000);
    const message = {
      released: 'This lab was released.',
      expired: 'This lab reached its time limit and was released.',
      idle: `This lab was released after ${minutes} minutes without activity.`,
      lost: 'This lab was lost (its machines are gone) and was released.',
    }[reason];
    await publishLabEvent(this.#redis, { labId: env.id, kind: 'ended', message, reason }, this.#eventsPrefix).catch(
      () => undefined,
    );
  }

  /** Records a new environment as provisioning. Idempotent: an existing id is left as it is. */
  async create(input: { id: string; pool: string; namespace: string }): Promise<Environment> {
    // One script: a crash between "the id exists" and "the record is complete" would leave a
    // record with no pool that no later create completes.
    await this.#redis.eval(
      CREATE,
      2,
      this.#keys.env(input.id),
      this.#keys.provisioning(input.pool),
      input.id,
      input.pool,
      input.namespace,
      this.#now(),
    );
    return await this.get(input.id);
  }

  async get(id: string): Promise<Environment> {
    const fields = await this.#redis.hgetall(this.#keys.env(id));
    if (fields.id === undefined) throw new NotFoundError(`no environment ${id}`);
    return parseEnvironment(fields);
  }

  /**
   * Applies a lifecycle event (provisioned, release, fail, delete); claims go through claim(). A
   * release records why the lab ended (`released` unless told) and publishes the `ended` event.
   */
  async apply(
    id: string,
    event: Exclude<EnvironmentEvent, 'claim'>,
    reason: Exclude<LabEndReason, 'idle' | 'expired'> = 'released',
  ): Promise<EnvironmentState> {
    const env = await this.get(id);
    try {
      const state = (await this.#redis.eval(
        MOVE,
        4,
        this.#keys.env(id),
        this.#keys.ready(env.pool),
        this.#keys.learner(env.learner ?? '-'),
        this.#keys.provisioning(env.pool),
        event,
        this.#now(),
        reason,
        this.#deletedRetentionMs,
      )) as EnvironmentState;
      if (event === 'release') await this.#ended(env, reason);
      return state;
    } catch (error) {
      const message = (error as Error).message;
      if (message.startsWith('BADMOVE'))
        throw new ConflictError(`environment ${id} is ${message.slice(8)} and cannot ${event}`);
      if (message.startsWith('NOENV')) throw new NotFoundError(`no environment ${id}`);
      throw error;
    }
  }

  /**
   * Releases a claimed lab whose time is up, deciding atomically on what Redis holds now rather
   * than on what the caller read earlier: a lab extended since is kept (`extended`), one already
   * released (by its learner, an operator or another reaper) or gone is `not-claimed`, with its
   * state. Neither is an error: the reaper's list is always a little stale.
   */
  async expire(id: string, now: number = this.#now()): Promise<ExpireOutcome> {
    const env = await this.get(id).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    if (env === undefined) return { outcome: 'not-claimed' };
    const [outcome, value] = (await this.#redis.eval(
      EXPIRE,
      4,
      this.#keys.env(id),
      this.#keys.ready(env.pool),
      this.#keys.learner(env.learner ?? '-'),
      this.#keys.provisioning(env.pool),
      now,
    )) as [string, string | undefined];
    if (outcome === 'expired') {
      await this.#ended(env, 'expired');
      return { outcome };
    }
    if (outcome === 'extended') return { outcome, expiresAt: value === '' ? Number.POSITIVE_INFINITY : Number(value) };
    return value === undefined || value === ''
      ? { outcome: 'not-claimed' }
      : { outcome: 'not-claimed', state: value as EnvironmentState };
  }

  /**
   * Records that the learner was warned a claimed lab is idle and goes at `releaseAt` unless they
   * come back. False when the lab is no longer claimed.
   */
  async warnIdle(id: string, warning: { warnedAt: number; releaseAt: number }): Promise<boolean> {
    return (await this.#redis.eval(WARN_IDLE, 1, this.#keys.env(id), warning.warnedAt, warning.releaseAt)) === 1;
  }

  /** Withdraws an idle warning (the learner came back). */
  async clearIdleWarning(id: string): Promise<void> {
    await this.#redis.hdel(this.#keys.env(id), 'idleWarnedAt', 'idleReleaseAt');
  }

  /**
   * Releases a warned lab that stayed idle, deciding atomically on what Redis holds now (see
   * RELEASE_IDLE): activity recorded under `activityKey` (lab-activity.ts `lastActivityKey`), a
   * claim or an extension within `idleMs` keeps it; a lab released meanwhile is `not-claimed`.
   */
  async releaseIdle(
    id: string,
    input: { activityKey: string; idleMs: number; now?: number },
  ): Promise<IdleReleaseOutcome> {
    const env = await this.get(id).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    if (env === undefined) return { outcome: 'not-claimed' };
    const [outcome, value] = (await this.#redis.eval(
      RELEASE_IDLE,
      5,
      this.#keys.env(id),
      this.#keys.ready(env.pool),
      this.#keys.learner(env.learner ?? '-'),
      this.#keys.provisioning(env.pool),
      input.activityKey,
      input.now ?? this.#now(),
      input.idleMs,
    )) as [string, string];
    if (outcome === 'idle') {
      await this.#ended(env, 'idle', Number(value));
      return { outcome, lastActivity: Number(value) };
    }
    if (outcome === 'active') return { outcome, lastActivity: Number(value) };
    if (outcome === 'not-warned') return { outcome };
    return value === '' ? { outcome: 'not-claimed' } : { outcome: 'not-claimed', state: value as EnvironmentState };
  }

  /**
   * Atomically binds the oldest ready environment of `pool` to a learner and scenario. One lab
   * per learner; an empty pool queues the learner and says where they stand.
   */
  async claim(input: { pool: string; learner: string; scenario: string; ttlMs: number }): Promise<Environment> {
    const [outcome, first, second] = (await this.#redis.eval(
      CLAIM,
      6,
      this.#keys.ready(input.pool),
      this.#keys.learner(input.learner),
      this.#keys.waiting(input.pool),
      this.#keys.provisioning(input.pool),
      this.#keys.waitingSeq(input.pool),
      this.#keys.waitingSeen(input.pool),
      input.learner,
      input.scenario,
      this.#now(),
      input.ttlMs,
      this.#keys.env(''),
    )) as [string, string | number, number | string[] | undefined];
    if (outcome === 'held') throw new LearnerHasLabError(input.learner, String(first));
    if (outcome === 'empty') throw new PoolExhaustedError(input.pool, Number(first), Number(second ?? 0));
    // The claimed record comes back with the claim: one round trip.
    const flat = second as string[];
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
    return parseEnvironment(fields);
  }

  /**
   * Pushes a claimed lab's expiry out by `byMs`, never past `claimedAt + maxTotalMs`. Returns the
   * new expiry; an ExtendLimitError when the lab is already at its cap.
   */
  async extend(id: string, byMs: number, maxTotalMs: number): Promise<number> {
    try {
      const [outcome, at] = (await this.#redis.eval(EXTEND, 1, this.#keys.env(id), this.#now(), byMs, maxTotalMs)) as [
        string,
        string,
      ];
      if (outcome === 'limit') throw new ExtendLimitError(id, Number(at));
      return Number(at);
    } catch (error) {
      const message = (error as Error).message;
      if (message.startsWith('NOENV')) throw new NotFoundError(`no lab ${id}`);
      if (message.startsWith('BADSTATE'))
        throw new ConflictError(`lab ${id} is ${message.slice(9)}, not claimed: only a claimed lab can be extended`);
      throw error;
    }
  }

  /** Records the pool worker's latest plan for a pool (read by the API and the dashboard). */
  async setPoolPlan(pool: string, plan: PoolPlanStatus): Promise<void> {
    await this.#redis.hset(this.#keys.poolPlans, pool, JSON.stringify(plan));
  }

  /** The pool worker's latest plan per pool. */
  async poolPlans(): Promise<Record<string, PoolPlanStatus>> {
    const fields = await this.#redis.hgetall(this.#keys.poolPlans);
    return Object.fromEntries(Object.entries(fields).map(([pool, json]) => [pool, JSON.parse(json) as PoolPlanStatus]));
  }

  /** Records why a pool's provision failed (the latest one per pool is kept). */
  async recordPoolFailure(pool: string, failure: PoolFailure): Promise<void> {
    await this.#redis.hset(this.#keys.poolFailures, pool, JSON.stringify(failure));
  }

  /** The latest failed provision per pool. */
  async poolFailures(): Promise<Record<string, PoolFailure>> {
    const fields = await this.#redis.hgetall(this.#keys.poolFailures);
    return Object.fromEntries(Object.entries(fields).map(([pool, json]) => [pool, JSON.parse(json) as PoolFailure]));
  }

  /** Marks a lab for an operator's attention, with why (shown on the dashboard and in the API). */
  async flagAttention(id: string, reason: string): Promise<void> {
    await this.#redis.hset(this.#keys.env(id), 'attention', JSON.stringify({ reason, at: this.#now() }));
  }

  /** Records how the learner reaches a claimed lab. */
  async setAccess(id: string, access: LabAccessDetails): Promise<void> {
    await this.#redis.hset(this.#keys.env(id), 'access', JSON.stringify(access));
  }

  /** Records how the learner reaches a claimed lab and returns the record as it is then (one round trip). */
  async recordAccess(id: string, access: LabAccessDetails): Promise<Environment> {
    const key = this.#keys.env(id);
    const replies = (await this.#redis.multi().hset(key, 'access', JSON.stringify(access)).hgetall(key).exec()) ?? [];
    const [error, fields] = replies[1] ?? [new Error('no reply')];
    if (error) throw error;
    const record = fields as Record<string, string>;
    if (record.id === undefined) throw new NotFoundError(`no environment ${id}`);
    return parseEnvironment(record);
  }

  /**
   * Records the boot a lab was checked on: each node's VMI uid (see `vmis`) and where the node
   * was reached (see `nodes`), in one write.
   */
  async setBoot(id: string, nodes: Record<string, LabNode & { uid: string }>): Promise<void> {
    const entries = Object.entries(nodes);
    await this.#redis.hset(
      this.#keys.env(id),
      'vmis',
      JSON.stringify(Object.fromEntries(entries.map(([name, node]) => [name, node.uid]))),
      'nodes',
      JSON.stringify(
        Object.fromEntries(
          entries.map(([name, node]) => [
            name,
            { address: node.address, ...(node.nodeName === undefined ? {} : { nodeName: node.nodeName }) },
          ]),
        ),
      ),
    );
  }

  /** The ids of a pool's ready environments, oldest first. */
  async readyIds(pool: string): Promise<string[]> {
    return await this.#redis.zrange(this.#keys.ready(pool), 0, -1);
  }

  /** Records the nodes' SSH host public keys, which every later SSH connection pins. */
  async setHostKeys(id: string, hostKeys: Record<string, string>): Promise<void> {
    await this.#redis.hset(this.#keys.env(id), 'hostKeys', JSON.stringify(hostKeys));
  }

  /** Every environment record (SCAN, then one pipelined read). */
  async list(): Promise<Environment[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.#redis.scan(cursor, 'MATCH', this.#keys.env('*'), 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const pipeline = this.#redis.pipeline();
    for (const key of keys) pipeline.hgetall(key);
    const replies = (await pipeline.exec()) ?? [];
    return replies.flatMap(([error, fields]) => {
      const record = fields as Record<string, string> | null;
      return error === null && record?.id !== undefined ? [parseEnvironment(record)] : [];
    });
  }

  /** The environment a learner holds, if any. */
  async heldBy(learner: string): Promise<Environment | undefined> {
    const id = await this.#redis.get(this.#keys.learner(learner));
    return id === null ? undefined : await this.get(id);
  }

  /** Learners queued for a pool (each asked within the last `pruneWaiting` window). */
  async waitingCount(pool: string): Promise<number> {
    return await this.#redis.zcard(this.#keys.waiting(pool));
  }

  /** Drops learners who have not asked for a lab of `pool` since `olderThanMs` ago; returns how many. */
  async pruneWaiting(pool: string, olderThanMs: number): Promise<number> {
    const seen = this.#keys.waitingSeen(pool);
    const stale = await this.#redis.zrangebyscore(seen, '-inf', this.#now() - olderThanMs);
    if (stale.length === 0) return 0;
    await this.#redis
      .multi()
      .zrem(this.#keys.waiting(pool), ...stale)
      .zrem(seen, ...stale)
      .exec();
    return stale.length;
  }

  async readyCount(pool: string): Promise<number> {
    return await this.#redis.zcard(this.#keys.ready(pool));
  }
}

export type StateCounts = Record<EnvironmentState, number>;

/** Environments counted by pool and state. */
export function countByPool(environments: readonly Pick<Environment, 'pool' | 'state'>[]): Map<string, StateCounts> {
  const counts = new Map<string, StateCounts>();
  for (const env of environments) {
    const pool = counts.get(env.pool) ?? emptyCounts();
    pool[env.state]++;
    counts.set(env.pool, pool);
  }
  return counts;
}

export function emptyCounts(): StateCounts {
  return { provisioning: 0, ready: 0, claimed: 0, releasing: 0, failed: 0, deleted: 0 };
}

function parseEnvironment(fields: Record<string, string>): Environment {
  const number = (key: string) => (fields[key] === undefined ? undefined : Number(fields[key]));
  return {
    id: fields.id ?? '',
    pool: fields.pool ?? '',
    namespace: fields.namespace ?? '',
    state: (fields.state ?? 'provisioning') as EnvironmentState,
    createdAt: Number(fields.createdAt),
    updatedAt: Number(fields.updatedAt),
    ...(fields.learner === undefined ? {} : { learner: fields.learner }),
    ...(fields.scenario === undefined ? {} : { scenario: fields.scenario }),
    ...(number('claimedAt') === undefined ? {} : { claimedAt: number('claimedAt') as number }),
    ...(number('expiresAt') === undefined ? {} : { expiresAt: number('expiresAt') as number }),
    ...(fields.hostKeys === undefined ? {} : { hostKeys: JSON.parse(fields.hostKeys) as Record<string, string> }),
    ...(fields.access === undefined ? {} : { access: JSON.parse(fields.access) as LabAccessDetails }),
    ...(fields.attention === undefined
      ? {}
      : { attention: JSON.parse(fields.attention) as { reason: string; at: number } }),
    ...(fields.vmis === undefined ? {} : { vmis: JSON.parse(fields.vmis) as Record<string, string> }),
    ...(fields.nodes === undefined ? {} : { nodes: JSON.parse(fields.nodes) as Record<string, LabNode> }),
    ...(number('extendedAt') === undefined ? {} : { extendedAt: number('extendedAt') as number }),
    ...(fields.idleWarnedAt === undefined || fields.idleReleaseAt === undefined
      ? {}
      : { idle: { warnedAt: Number(fields.idleWarnedAt), releaseAt: Number(fields.idleReleaseAt) } }),
    ...(fields.endReason === undefined
      ? {}
      : { ended: { reason: fields.endReason as LabEndReason, at: Number(fields.endedAt) } }),
  };
}
