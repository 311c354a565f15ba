import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createClient } from '@breakfix/client';

/**
 * The learners' side of the HTTP benchmark, on a thread of its own: in production the learners'
 * HTTP clients (the Slack bot, labctl) are never in the orchestrator's process, and 50 fetches
 * made on the orchestrator's own event loop would be counted as the orchestrator's latency.
 * Times are epoch milliseconds with sub-millisecond precision (timeOrigin + now), so they compare
 * with the orchestrator's trace on the main thread.
 */
export interface LearnerClaim {
  learner: string;
  scenario: string;
  publicKey: string;
}

export interface LearnerAnswer {
  /** When the request was sent and the answer read, epoch ms. */
  sentAt: number;
  doneAt: number;
  labId?: string;
  port?: number;
  error?: string;
}

interface Setup {
  baseUrl: string;
  token: string;
}

type Request = { id: number; claim: LearnerClaim };
type Reply = { id: number; answer: LearnerAnswer };

const epochNow = () => performance.timeOrigin + performance.now();

export interface Learners {
  claim(claim: LearnerClaim): Promise<LearnerAnswer>;
  close(): Promise<void>;
}

/** Starts the learners' thread; every claim is one HTTP request from it. */
export function startLearners(setup: Setup): Learners {
  // A worker thread does not inherit tsx's loader: register it there before loading this file.
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(bootstrap, { eval: true, workerData: setup });
  const pending = new Map<number, (answer: LearnerAnswer) => void>();
  let next = 0;
  worker.on('message', ({ id, answer }: Reply) => {
    pending.get(id)?.(answer);
    pending.delete(id);
  });
  worker.on('error', (error) => {
    for (const resolve of pending.values()) resolve({ sentAt: 0, doneAt: 0, error: error.message });
    pending.clear();
  });
  return {
    claim: (claim) =>
      new Promise((resolve) => {
        const id = next++;
        pending.set(id, resolve);
        worker.postMessage({ id, claim } satisfies Request);
      }),
    close: async () => {
      await worker.terminate();
    },
  };
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  const { baseUrl, token } = workerData as Setup;
  const client = createClient({ baseUrl, token });
  port.on('message', async ({ id, claim }: Request) => {
    const sentAt = epochNow();
    try {
      const { lab, connection } = await client.labs.claim(claim, {
        idempotencyKey: randomBytes(16).toString('hex'),
      });
      port.postMessage({
        id,
        answer: { sentAt, doneAt: epochNow(), labId: lab.id, port: connection.port },
      } satisfies Reply);
    } catch (error) {
      port.postMessage({
        id,
        answer: { sentAt, doneAt: epochNow(), error: (error as Error).message },
      } satisfies Reply);
    }
  });
}
