/**
 * A token bucket per user: `burst` commands at once, then one every `refillMs`. In memory: each
 * bot replica limits on its own, and the API's per-learner limit backs it up.
 */
export function createRateLimiter(options: { burst: number; refillMs: number; now?: () => number }) {
  const now = options.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    /** True when the user may go ahead (and spends a token). */
    take(user: string): boolean {
      const t = now();
      const bucket = buckets.get(user) ?? { tokens: options.burst, at: t };
      bucket.tokens = Math.min(options.burst, bucket.tokens + (t - bucket.at) / options.refillMs);
      bucket.at = t;
      buckets.set(user, bucket);
      if (bucket.tokens < 1) return false;
      bucket.tokens -= 1;
      return true;
    },
  };
}

/** Remembers keys for `ttlMs`: a retried Slack request (same trigger or event id) runs once. */
export function createSeen(options: { ttlMs: number; now?: () => number }) {
  const now = options.now ?? Date.now;
  const seen = new Map<string, number>();
  return {
    /** True the first time a key is offered within the TTL. */
    first(key: string): boolean {
      const t = now();
      for (const [k, at] of seen) if (t - at > options.ttlMs) seen.delete(k);
      if (seen.has(key)) return false;
      seen.set(key, t);
      return true;
    },
  };
}
