import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * The pool worker's queues as the API sees them: it adds teardown jobs for released labs and shows
 * both queues on the dashboard. The job contract is the worker's (apps/pool-worker
 * create-pool-worker.ts `release`): queue `teardown`, data `{id}`, jobId `teardown-<id>`, so a lab
 * released twice (by its learner and by the reaper) is torn down once.
 */
export function createWorkerQueues(options: { connection: () => Redis; prefix?: string }) {
  const prefix = options.prefix ?? 'breakfix';
  const provision = new Queue('provision', { connection: options.connection(), prefix });
  const teardownQueue = new Queue<{ id: string }>('teardown', { connection: options.connection(), prefix });
  return {
    queues: [provision, teardownQueue] as Queue[],
    async teardown(id: string): Promise<void> {
      await teardownQueue.add(
        'teardown',
        { id },
        { jobId: `teardown-${id}`, removeOnComplete: 1000, removeOnFail: 1000 },
      );
    },
    async close(): Promise<void> {
      await Promise.all([provision.close(), teardownQueue.close()]);
    },
  };
}
