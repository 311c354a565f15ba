// One process allocating NodePorts for the isolation benchmark (isolation.ts):
//   node --import tsx nodeport-worker.ts <redisUrl> <prefix> <count> <labPrefix> <first> <last> <warmup>
// Allocates <warmup> ports first (script loaded, connection up), prints "ready", waits for a line
// on stdin so every process starts together, then allocates <count> ports at once and prints
// {startedAt, endedAt, latencies, failures, errors}: times in ms since the epoch, so the parent
// can take one window over all processes.
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { NodePortAllocator } from '@breakfix/pool';
import { Redis } from 'ioredis';

const [redisUrl = '', prefix = '', count = '0', labPrefix = '', first = '0', last = '0', warmup = '0'] =
  process.argv.slice(2);
const redis = new Redis(redisUrl);
const allocator = new NodePortAllocator({ redis, prefix, range: { first: Number(first), last: Number(last) } });
const now = () => performance.timeOrigin + performance.now();

for (let i = 0; i < Number(warmup); i++) await allocator.allocate(`${labPrefix}-warmup-${i}`);
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => lines.once('line', () => resolve()));
lines.close();

const latencies: number[] = [];
const errors: string[] = [];
const startedAt = now();
await Promise.all(
  Array.from({ length: Number(count) }, async (_, i) => {
    const started = performance.now();
    try {
      await allocator.allocate(`${labPrefix}-${i}`);
    } catch (error) {
      errors.push((error as Error).message);
    } finally {
      latencies.push(performance.now() - started);
    }
  }),
);
const endedAt = now();
process.stdout.write(
  `${JSON.stringify({ startedAt, endedAt, latencies, failures: errors.length, errors: errors.slice(0, 3) })}\n`,
);
redis.disconnect();
