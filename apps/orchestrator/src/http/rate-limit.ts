import type { Redis } from 'ioredis';
import { EdgeError } from './problem.js';

export interface RateLimitOptions {
  redis: Pick<Redis, 'eval'>;
  prefix: string;
  /** Requests per learner per window. Default 60. */
  limit?: number;
  /** Window length. Default 60 s. */
  windowMs?: number;
  now?: () => number;
}

// GCRA (a token bucket kept as one timestamp): `limit` requests at once, then one every
// windowMs / limit. Returns 0 when allowed, else the milliseconds until the next one would be.
const HIT = `local now, interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local next_tat = tat + interval
local allowed_at = next_tat - burst * interval
if now < allowed_at then return math.ceil(allowed_at - now) end
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil(next_tat - now))
return 0`;

/**
 * A rate limit per learner in Redis (shared by every replica): a burst of `limit` requests, then
 * one every `windowMs / limit` — no window edge where twice the limit gets through. Throws
 * rate_limited with Retry-After when a learner goes over.
 */
export function createRateLimiter(options: RateLimitOptions) {
  const limit = options.limit ?? 60;
  const windowMs = options.windowMs ?? 60_000;
  const now = options.now ?? Date.now;
  return async (learner: string): Promise<void> => {
    const waitMs = Number(
      await options.redis.eval(HIT, 1, `${options.prefix}ratelimit:${learner}`, now(), windowMs / limit, limit),
    );
    if (waitMs > 0) {
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      throw new EdgeError(
        'rate_limited',
        `learner ${learner} made more than ${limit} requests in ${windowMs / 1000} s`,
        {
          hint: `wait ${retryAfter} s`,
          retryAfter,
        },
      );
    }
  };
}
