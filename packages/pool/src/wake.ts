import type { Redis } from 'ioredis';

/** The channel on which a claim that found its pool empty asks the pool worker to top up now. */
export function wakeChannel(prefix = 'breakfix'): string {
  return `${prefix}:wake`;
}

/**
 * Asks the pool worker for an immediate tick (rather than at its next cron time), e.g. after a
 * claim found `pool` empty. Fire and forget: the cron tick catches up if no worker listens.
 */
export async function requestTopUp(redis: Pick<Redis, 'publish'>, pool: string, prefix = 'breakfix'): Promise<void> {
  await redis.publish(wakeChannel(prefix), pool);
}
