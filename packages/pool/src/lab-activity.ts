import type { Redis } from 'ioredis';

/**
 * What happens to a claimed lab that open browser terminals (and anyone else listening) should
 * know about: an idle warning to show as a banner, the warning withdrawn, the lab ended.
 */
export type LabEvent =
  | { labId: string; kind: 'idle-warning'; message: string; releaseAt: number }
  | { labId: string; kind: 'activity-reset'; message: string }
  | { labId: string; kind: 'ended'; message: string; reason: LabEndReason };

/** Why a claimed lab ended: its learner (or an operator) released it, its TTL ran out, idleness, or a lost VM. */
export type LabEndReason = 'released' | 'expired' | 'idle' | 'lost';

/** The Redis pub/sub channel lab events go out on (payload: one JSON `LabEvent`). */
export function labEventsChannel(prefix = 'breakfix'): string {
  return `${prefix}:lab-events`;
}

/** Publishes a lab event. Fire and forget: nobody listening is not an error. */
export async function publishLabEvent(
  redis: Pick<Redis, 'publish'>,
  event: LabEvent,
  prefix = 'breakfix',
): Promise<void> {
  await redis.publish(labEventsChannel(prefix), JSON.stringify(event));
}

/** Reads a message from `labEventsChannel`; undefined for anything that is not a lab event. */
export function parseLabEvent(message: string): LabEvent | undefined {
  try {
    const event = JSON.parse(message) as Partial<LabEvent> | null;
    if (typeof event !== 'object' || event === null) return undefined;
    if (typeof event.labId !== 'string' || typeof event.message !== 'string') return undefined;
    if (event.kind === 'idle-warning' && typeof event.releaseAt === 'number') return event as LabEvent;
    if (event.kind === 'activity-reset') return event as LabEvent;
    if (event.kind === 'ended' && typeof event.reason === 'string') return event as LabEvent;
    return undefined;
  } catch {
    return undefined;
  }
}

/** Signs of life in a claimed lab that do not come over SSH: open browser terminals and their input. */
export interface LabActivity {
  /** A browser terminal opened on the lab; call the returned function when it closes. Counts as activity. */
  terminalOpened(labId: string): Promise<() => Promise<void>>;
  /** Input in a browser terminal or another sign of life (callers throttle to at most one per 10 s per socket). */
  touch(labId: string): Promise<void>;
  /** Open browser terminals right now (a terminal whose process died without closing expires after ~2 min via heartbeat/TTL). */
  openTerminals(labId: string): Promise<number>;
  lastActivity(labId: string): Promise<number | undefined>;
}

/** What the idle reaper needs beyond the contract: activity it saw itself, and where it is kept. */
export interface LabActivityRecords extends LabActivity {
  /** Activity seen elsewhere (an SSH session's terminal), at the time it happened; never moves back. */
  recordActivity(labId: string, at: number): Promise<void>;
  /** The Redis key holding a lab's last activity (the store's atomic idle release reads it). */
  activityKey(labId: string): string;
}

/** Where a lab's last activity is kept. */
export function lastActivityKey(labId: string, prefix = 'breakfix'): string {
  return `${prefix}:lab:${labId}:last-activity`;
}

export interface LabActivityOptions {
  redis: Redis;
  /** Key prefix. Default `breakfix`. */
  prefix?: string;
  now?: () => number;
  /** How long an open terminal counts without a heartbeat (its process may have died). Default 2 min. */
  terminalTtlMs?: number;
  /** How often an open terminal renews itself. Default a third of `terminalTtlMs`. */
  heartbeatMs?: number;
}

/** Activity records outlive any sensible lab: a day after the last touch they go. */
const RECORD_TTL_SECONDS = 24 * 60 * 60;

/**
 * Each open terminal is a key with a Redis expiry (real time, whatever clock the caller injects),
 * renewed on a heartbeat while the terminal's process lives, and listed in a set per lab; a
 * terminal whose process died stops counting once its key lapses. The last activity is one number
 * per lab, only ever moved forward, on the caller's clock.
 */
export function createLabActivity(options: LabActivityOptions): LabActivityRecords {
  const redis = options.redis;
  const prefix = options.prefix ?? 'breakfix';
  const now = options.now ?? Date.now;
  const ttlMs = options.terminalTtlMs ?? 120_000;
  const heartbeatMs = options.heartbeatMs ?? Math.max(100, Math.floor(ttlMs / 3));
  const terminalsKey = (labId: string) => `${prefix}:lab:${labId}:terminals`;
  const terminalKey = (labId: string, terminal: string) => `${prefix}:lab:${labId}:terminal:${terminal}`;
  const lastKey = (labId: string) => lastActivityKey(labId, prefix);
  let sequence = 0;

  const recordActivity = async (labId: string, at: number) => {
    await redis.eval(TOUCH, 1, lastKey(labId), Math.floor(at), RECORD_TTL_SECONDS);
  };
  const touch = async (labId: string) => {
    await recordActivity(labId, now());
  };

  return {
    async terminalOpened(labId) {
      const terminal = `${process.pid}-${Date.now().toString(36)}-${sequence++}`;
      const lease = async () => {
        await redis
          .multi()
          .set(terminalKey(labId, terminal), '1', 'PX', ttlMs)
          .sadd(terminalsKey(labId), terminal)
          .expire(terminalsKey(labId), RECORD_TTL_SECONDS)
          .exec();
      };
      await lease();
      await touch(labId);
      const heartbeat = setInterval(() => {
        lease().catch(() => undefined);
      }, heartbeatMs);
      heartbeat.unref();
      let closed = false;
      return async () => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        await redis.multi().del(terminalKey(labId, terminal)).srem(terminalsKey(labId), terminal).exec();
        // Closing the terminal is the learner's last sign of life in it.
        await touch(labId);
      };
    },
    touch,
    recordActivity,
    activityKey: lastKey,
    async openTerminals(labId) {
      return Number(await redis.eval(OPEN_TERMINALS, 1, terminalsKey(labId), `${prefix}:lab:${labId}:terminal:`));
    },
    async lastActivity(labId) {
      const value = await redis.get(lastKey(labId));
      return value === null ? undefined : Number(value);
    },
  };
}

/** KEYS: 1 set of a lab's terminals. ARGV: terminal key prefix. Drops lapsed terminals, counts the rest. */
const OPEN_TERMINALS = `
local open = 0
for _, terminal in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. terminal) == 1 then open = open + 1 else redis.call('SREM', KEYS[1], terminal) end
end
return open
`;

/** KEYS: 1 last-activity key. ARGV: now, ttl seconds. Moves the last activity forward, never back. */
const TOUCH = `
local current = tonumber(redis.call('GET', KEYS[1]))
if current == nil or current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`;
