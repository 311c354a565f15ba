import { randomBytes } from 'node:crypto';

/** A learner waiting for a lab because the scenario's pool was empty. */
export interface QueuedLearner {
  /** The breakfix learner id (`slack.<team>.<user>`): one entry per learner. */
  learner: string;
  user: string;
  team: string;
  scenario: string;
  /** The DM that says "you're #N in the queue" and turns into the ready message. */
  channel: string;
  ts: string;
  /** When the learner asked (ms since the epoch); the queue gives up `queueGiveUpMs` later. */
  since: number;
  /** Claim attempts made so far; attempt N > 0 claims with the idempotency key `<key>-<N>`. */
  attempt: number;
  /** The idempotency key of the command that queued the learner; names this entry. */
  key: string;
}

/**
 * Where queued learners wait. Every bot replica reads the same queue, so it survives a restart
 * and a second replica; a short lease per learner keeps two replicas from claiming for the same
 * learner at once.
 */
export interface WaitQueue {
  /** Queues the learner, replacing an entry they already had (which is returned). */
  put(entry: QueuedLearner): Promise<QueuedLearner | undefined>;
  get(learner: string): Promise<QueuedLearner | undefined>;
  list(): Promise<QueuedLearner[]>;
  /** Removes the learner's entry (only the one named `key`, when given) and returns it. */
  remove(learner: string, key?: string): Promise<QueuedLearner | undefined>;
  /** Counts one more attempt on the entry named `key`; undefined when it is gone or was replaced. */
  advance(learner: string, key: string): Promise<QueuedLearner | undefined>;
  /** Runs `work` holding the learner's lease; undefined, without running it, when another holds it. */
  withLease<T>(learner: string, work: () => Promise<T>): Promise<T | undefined>;
}

/** The commands of ioredis the queue uses. */
export interface QueueRedis {
  hset(key: string, field: string, value: string): Promise<number>;
  hget(key: string, field: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<'OK' | null>;
  eval(script: string, keys: number, ...args: (string | number)[]): Promise<unknown>;
}

// Swaps the entry and returns what it replaced, in one step.
const PUT = `local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return old`;
// Removes the entry, only if it is the one named ARGV[2] (when given).
const REMOVE = `local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return nil end
if ARGV[2] ~= '' and cjson.decode(old).key ~= ARGV[2] then return nil end
redis.call('HDEL', KEYS[1], ARGV[1])
return old`;
// One more attempt on the entry named ARGV[2]; nothing when it was removed or replaced meanwhile.
const ADVANCE = `local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return nil end
local entry = cjson.decode(old)
if entry.key ~= ARGV[2] then return nil end
entry.attempt = entry.attempt + 1
local new = cjson.encode(entry)
redis.call('HSET', KEYS[1], ARGV[1], new)
return new`;
// Gives the lease back only if it is still ours (it may have expired and been taken).
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface RedisWaitQueueOptions {
  redis: QueueRedis;
  /** Prepended to the keys, like the platform's other keys. Default `breakfix:`. */
  prefix?: string;
  /**
   * How long one replica holds a learner's lease while it claims for them. Longer than a claim
   * takes (the break runs over SSH at claim time); a replica that dies frees it after this.
   * Default 2 minutes.
   */
  leaseMs?: number;
}

/** The wait queue in Redis: a hash `<prefix>slack:queue` of learner -> entry, and a lease key per learner. */
export function createRedisWaitQueue(options: RedisWaitQueueOptions): WaitQueue {
  const { redis } = options;
  const prefix = options.prefix ?? 'breakfix:';
  const key = `${prefix}slack:queue`;
  const leaseKey = (learner: string) => `${prefix}slack:queue-lease:${learner}`;
  const leaseMs = options.leaseMs ?? 120_000;
  return {
    async put(entry) {
      return decode(await redis.eval(PUT, 1, key, entry.learner, JSON.stringify(entry)));
    },
    async get(learner) {
      return decode(await redis.hget(key, learner));
    },
    async list() {
      return Object.values(await redis.hgetall(key))
        .map((raw) => decode(raw))
        .filter((entry): entry is QueuedLearner => entry !== undefined)
        .sort((a, b) => a.since - b.since);
    },
    async remove(learner, entryKey) {
      return decode(await redis.eval(REMOVE, 1, key, learner, entryKey ?? ''));
    },
    async advance(learner, entryKey) {
      return decode(await redis.eval(ADVANCE, 1, key, learner, entryKey));
    },
    async withLease(learner, work) {
      const token = randomBytes(12).toString('hex');
      if ((await redis.set(leaseKey(learner), token, 'PX', leaseMs, 'NX')) !== 'OK') return undefined;
      try {
        return await work();
      } finally {
        await redis.eval(RELEASE, 1, leaseKey(learner), token);
      }
    },
  };
}

/**
 * The wait queue in this process's memory: for a single bot without Redis (tests, a laptop). It
 * does not survive a restart and is not shared between replicas; the bot's entry point always
 * uses Redis.
 */
export function createMemoryWaitQueue(): WaitQueue {
  const entries = new Map<string, QueuedLearner>();
  const leases = new Set<string>();
  return {
    async put(entry) {
      const old = entries.get(entry.learner);
      entries.set(entry.learner, { ...entry });
      return old;
    },
    async get(learner) {
      const entry = entries.get(learner);
      return entry === undefined ? undefined : { ...entry };
    },
    async list() {
      return [...entries.values()].map((entry) => ({ ...entry })).sort((a, b) => a.since - b.since);
    },
    async remove(learner, entryKey) {
      const old = entries.get(learner);
      if (old === undefined || (entryKey !== undefined && old.key !== entryKey)) return undefined;
      entries.delete(learner);
      return old;
    },
    async advance(learner, entryKey) {
      const old = entries.get(learner);
      if (old === undefined || old.key !== entryKey) return undefined;
      old.attempt += 1;
      return { ...old };
    },
    async withLease(learner, work) {
      if (leases.has(learner)) return undefined;
      leases.add(learner);
      try {
        return await work();
      } finally {
        leases.delete(learner);
      }
    },
  };
}

function decode(raw: unknown): QueuedLearner | undefined {
  if (typeof raw !== 'string') return undefined;
  return JSON.parse(raw) as QueuedLearner;
}
