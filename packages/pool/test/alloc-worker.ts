// A separate process that allocates NodePorts, for the concurrency and crash tests.
//   node --import tsx alloc-worker.ts <redisUrl> <prefix> <count> <labPrefix> <leaseMs> <first> <last> [--then-hang]
import { Redis } from 'ioredis';
import { NodePortAllocator } from '../src/index.js';

const [redisUrl = '', prefix = '', count = '0', labPrefix = '', leaseMs = '0', first = '0', last = '0', mode] =
  process.argv.slice(2);
const redis = new Redis(redisUrl);
const allocator = new NodePortAllocator({
  redis,
  prefix,
  leaseMs: Number(leaseMs),
  range: { first: Number(first), last: Number(last) },
});
const started = performance.now();
const ports = await Promise.all(
  Array.from({ length: Number(count) }, (_, i) =>
    allocator.allocate(`${labPrefix}-${i}`).catch((error: Error) => `error: ${error.message}`),
  ),
);
process.stdout.write(`${JSON.stringify({ ports, ms: performance.now() - started })}\n`);
if (mode === '--then-hang') {
  await new Promise(() => {}); // killed by the test, never releasing
}
redis.disconnect();
