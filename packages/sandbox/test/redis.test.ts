import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniqueName, useSandbox } from '@breakfix/testkit';

test('redis-server round-trips values and Lua, and never evicts keys', async () => {
  const redis = (await useSandbox()).redis();
  try {
    const prefix = uniqueName('redis');
    await redis.set(`${prefix}:greeting`, 'hello', 'EX', 60);
    assert.equal(await redis.get(`${prefix}:greeting`), 'hello');
    await redis.hset(`${prefix}:env`, { state: 'ready', pool: 'k8s-1.36' });
    assert.deepEqual(await redis.hgetall(`${prefix}:env`), { state: 'ready', pool: 'k8s-1.36' });
    assert.equal(await redis.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", 1, `${prefix}:n`, 5), 5);
    // BullMQ requires noeviction: an evicted job key is a lost job.
    assert.deepEqual(await redis.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction']);
  } finally {
    redis.disconnect();
  }
});
