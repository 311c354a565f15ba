import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { SandboxInfo } from './sandbox-info.js';
import { startSandboxProcess } from './sandbox-process.js';

export interface TestSandbox {
  info: SandboxInfo;
  /** A new Redis connection to the sandbox's redis-server; the caller quits it. */
  redis(): Redis;
}

let shared: Promise<TestSandbox> | undefined;

/**
 * The sandbox of this test run. `npm test` starts one for all files and names its info file in
 * BREAKFIX_SANDBOX_FILE; a test file run on its own starts a private one that dies with it.
 * Tests isolate themselves by namespace and Redis key prefix (`uniqueName`), never by a new sandbox.
 */
export function useSandbox(): Promise<TestSandbox> {
  shared ??= (async () => {
    const file = process.env.BREAKFIX_SANDBOX_FILE;
    let info: SandboxInfo;
    if (file !== undefined && file !== '') {
      info = JSON.parse(readFileSync(file, 'utf8')) as SandboxInfo;
    } else {
      const sandbox = await startSandboxProcess();
      // Let this process exit when its tests are done; the kernel then stops the sandbox.
      sandbox.child.unref();
      for (const stream of [sandbox.child.stdout, sandbox.child.stderr])
        (stream as { unref?: () => void } | null)?.unref?.();
      info = sandbox.info;
    }
    return { info, redis: () => track(new Redis(info.redisUrl, { maxRetriesPerRequest: 1 })) };
  })();
  return shared;
}

/** A DNS-1123 name no other test uses: `prefix-` plus 8 random hex characters. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

const connections = new Set<Redis>();

function track(redis: Redis): Redis {
  connections.add(redis);
  redis.once('end', () => connections.delete(redis));
  return redis;
}

/**
 * Closes every connection `redis()` opened. A test file calls it in `after()`: an open connection
 * keeps the file's process alive, and the runner would wait for it forever.
 */
export function closeRedisConnections(): void {
  for (const redis of connections) redis.disconnect();
  connections.clear();
}
