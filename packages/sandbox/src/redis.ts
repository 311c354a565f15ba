import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@breakfix/core';
import { type ManagedProcess, spawnManaged } from '@breakfix/qemu';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

export interface StartedRedis {
  url: string;
  process: ManagedProcess;
}

/**
 * Starts Debian's `redis-server` on a free loopback port with the settings production needs
 * (`noeviction`: BullMQ must never lose keys to eviction); no persistence unless asked (tests are throwaway).
 */
export async function startRedis(options: {
  dir: string;
  redisServer?: string;
  startTimeoutMs: number;
  /** A fixed port, e.g. to restart a server where its clients expect it. Default: a free one. */
  port?: number;
  /** `aof`: an append-only file, so a restart on the same `dir` finds what was written before. */
  persistence?: 'none' | 'aof';
  /**
   * When the AOF is fsynced. Default `always`: a restart keeps every acknowledged write.
   * `everysec` is production's (infra/base/redis/redis.conf): a crash may lose the last second or so.
   */
  appendfsync?: 'always' | 'everysec' | 'no';
}): Promise<StartedRedis> {
  const port = options.port ?? (await freePort());
  const data = join(options.dir, 'redis');
  mkdirSync(data, { recursive: true });
  mkdirSync(join(options.dir, 'logs'), { recursive: true });
  const process = spawnManaged(
    'redis-server',
    options.redisServer ?? 'redis-server',
    [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--dir',
      data,
      '--save',
      '',
      '--appendonly',
      options.persistence === 'aof' ? 'yes' : 'no',
      '--appendfsync',
      options.appendfsync ?? 'always',
      '--maxmemory-policy',
      'noeviction',
      '--protected-mode',
      'yes',
    ],
    { logFile: join(options.dir, 'logs', 'redis.log') },
  );
  const url = `redis://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        client.on('error', () => undefined); // a refused connection while it starts: connect() rejects, we retry
        try {
          await client.connect();
          return (await client.ping()) === 'PONG' ? true : undefined;
        } finally {
          client.disconnect();
        }
      },
      { what: `redis-server on ${url} (log: ${process.logFile})`, timeoutMs: options.startTimeoutMs, intervalMs: 50 },
    );
  } catch (error) {
    await process.stop(1_000);
    throw error;
  }
  return { url, process };
}
