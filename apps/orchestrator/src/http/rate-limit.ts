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

// INCR and PEXPIRE in one step, so a crash between them never leaves a counter without expiry.
const HIT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

/**
 * A fixed-window counter per learner in Redis (shared by every replica). Throws rate_limited
 * with Retry-After when a learner goes over.
 */
export function createRateLimiter(options: RateLimitOptions) {
  const limit = options.limit ?? 60;
  const windowMs = options.windowMs ?? 60_000;
  const now = options.now ?? Date.now;
  return async (learner: string): Promise<void> => {
    const window = Math.floor(now() / windowMs);
    const count = Number(await options.redis.eval(HIT, 1, `${options.prefix}ratelimit:${learner}:${window}`, windowMs));
    if (count > limit) {
      const retryAfter = Math.max(1, Math.ceil(((window + 1) * windowMs - now()) / 1000));
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
