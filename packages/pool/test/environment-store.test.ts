import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ConflictError, NotFoundError } from '@breakfix/core';
import { closeRedisConnections, uniqueName, useSandbox } from '@breakfix/testkit';
import { EnvironmentStore, LearnerHasLabError, PoolExhaustedError } from '../src/index.js';

after(closeRedisConnections);

async function store(now?: () => number) {
  const { redis } = await useSandbox();
  return new EnvironmentStore({
    redis: redis(),
    prefix: `${uniqueName('envs')}:`,
    ...(now === undefined ? {} : { now }),
  });
}

async function readyEnvironments(environments: EnvironmentStore, pool: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `env-${String(i).padStart(3, '0')}`);
  for (const id of ids) {
    await environments.create({ id, pool, namespace: `lab-${id}` });
    await environments.apply(id, 'provisioned');
  }
  return ids;
}

describe('environment store', () => {
  test('an environment lives provisioning -> ready -> claimed -> releasing -> deleted', async () => {
    const environments = await store();
    const created = await environments.create({ id: 'e1', pool: 'k8s-1.36', namespace: 'lab-e1' });
    assert.equal(created.state, 'provisioning');
    assert.equal(await environments.apply('e1', 'provisioned'), 'ready');
    assert.equal(await environments.readyCount('k8s-1.36'), 1);

    const claimed = await environments.claim({
      pool: 'k8s-1.36',
      learner: 'ada',
      scenario: 'kubelet-crashloop',
      ttlMs: 3_600_000,
    });
    assert.equal(claimed.id, 'e1');
    assert.equal(claimed.state, 'claimed');
    assert.equal(claimed.learner, 'ada');
    assert.equal(claimed.scenario, 'kubelet-crashloop');
    assert.equal((claimed.expiresAt ?? 0) - (claimed.claimedAt ?? 0), 3_600_000);
    assert.equal(await environments.readyCount('k8s-1.36'), 0);
    assert.equal((await environments.heldBy('ada'))?.id, 'e1');

    assert.equal(await environments.apply('e1', 'release'), 'releasing');
    assert.equal(await environments.heldBy('ada'), undefined);
    assert.equal(await environments.apply('e1', 'delete'), 'deleted');
  });

  test('a deleted record expires after the retention; live records never do', { timeout: 60_000 }, async () => {
    const { redis } = await useSandbox();
    const client = redis();
    const prefix = `${uniqueName('envs')}:`;
    const environments = new EnvironmentStore({ redis: client, prefix, deletedRetentionMs: 60_000 });
    // Given a lab that lived its whole life and one still ready
    await environments.create({ id: 'gone', pool: 'p', namespace: 'lab-gone' });
    await environments.apply('gone', 'provisioned');
    await environments.claim({ pool: 'p', learner: 'ada', scenario: 's', ttlMs: 60_000 });
    await environments.apply('gone', 'release');
    await environments.create({ id: 'kept', pool: 'p', namespace: 'lab-kept' });
    await environments.apply('kept', 'provisioned');
    assert.equal(await client.pttl(`${prefix}env:gone`), -1, 'a releasing record is kept');

    // When the first is deleted
    await environments.apply('gone', 'delete');

    // Then it is still readable, and Redis drops it within the retention; the ready one stays
    assert.equal((await environments.get('gone')).state, 'deleted');
    const ttl = await client.pttl(`${prefix}env:gone`);
    assert.ok(ttl > 0 && ttl <= 60_000, `expires within the retention (pttl ${ttl})`);
    assert.equal(await client.pttl(`${prefix}env:kept`), -1);
  });

  test('200 concurrent claims on 50 ready labs: 50 distinct labs, 150 queued, none held twice', async () => {
    const environments = await store();
    const ids = await readyEnvironments(environments, 'p', 50);
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        environments.claim({ pool: 'p', learner: `learner-${i}`, scenario: 's', ttlMs: 60_000 }),
      ),
    );
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    assert.equal(won.length, 50);
    assert.deepEqual(new Set(won.map((e) => e.id)), new Set(ids), 'every ready lab went to exactly one learner');
    assert.equal(new Set(won.map((e) => e.learner)).size, 50);
    assert.equal(lost.length, 150);
    assert.ok(lost.every((e) => e instanceof PoolExhaustedError));
    assert.deepEqual(
      (lost as PoolExhaustedError[]).map((e) => e.queuePosition).sort((a, b) => a - b),
      Array.from({ length: 150 }, (_, i) => i + 1),
      'each waiting learner has a queue position of their own',
    );

    // Checked again from Redis: each lab's record names the learner whose key points back at it.
    for (const env of won) {
      const stored = await environments.get(env.id);
      assert.equal(stored.state, 'claimed');
      assert.equal((await environments.heldBy(stored.learner ?? ''))?.id, env.id);
    }
    assert.equal(await environments.readyCount('p'), 0);
  });

  test('one lab per learner; after release the learner may claim again', async () => {
    const environments = await store();
    await readyEnvironments(environments, 'p', 2);
    const first = await environments.claim({ pool: 'p', learner: 'grace', scenario: 's', ttlMs: 1_000 });
    await assert.rejects(
      environments.claim({ pool: 'p', learner: 'grace', scenario: 's', ttlMs: 1_000 }),
      (error: unknown) => {
        assert.ok(error instanceof LearnerHasLabError);
        assert.equal(error.environmentId, first.id);
        assert.match(error.message, new RegExp(`learner grace already has lab ${first.id}`));
        return true;
      },
    );
    await environments.apply(first.id, 'release');
    const second = await environments.claim({ pool: 'p', learner: 'grace', scenario: 's', ttlMs: 1_000 });
    assert.notEqual(second.id, first.id);
  });

  test('an empty pool says where the learner stands and what is booting', async () => {
    const environments = await store();
    await environments.create({ id: 'booting', pool: 'p', namespace: 'lab-booting' });
    await assert.rejects(
      environments.claim({ pool: 'p', learner: 'linus', scenario: 's', ttlMs: 1_000 }),
      (error: unknown) => {
        assert.ok(error instanceof PoolExhaustedError);
        assert.equal(error.queuePosition, 1);
        assert.equal(error.provisioning, 1);
        assert.match(error.message, /no ready lab in pool p; you are number 1 in the queue/);
        return true;
      },
    );
    // Asking again keeps the learner's place.
    await assert.rejects(
      environments.claim({ pool: 'p', learner: 'linus', scenario: 's', ttlMs: 1_000 }),
      /number 1 in the queue/,
    );
  });

  test('moves the lifecycle does not allow are refused without changing anything', async () => {
    const environments = await store();
    await readyEnvironments(environments, 'p', 1);
    await assert.rejects(environments.apply('env-000', 'release'), (error: unknown) => {
      assert.ok(error instanceof ConflictError);
      assert.match(error.message, /environment env-000 is ready and cannot release/);
      return true;
    });
    assert.equal((await environments.get('env-000')).state, 'ready');
    assert.equal(await environments.readyCount('p'), 1);
    await assert.rejects(environments.apply('nope', 'delete'), NotFoundError);
    const again = await environments.create({ id: 'env-000', pool: 'p', namespace: 'other' });
    assert.equal(again.state, 'ready', 'create is idempotent and never resets an environment');
  });

  test('expire releases a claimed lab only when its time is up now, and finds a released one done', {
    timeout: 30_000,
  }, async () => {
    let clock = 1_000_000;
    const environments = await store(() => clock);
    await readyEnvironments(environments, 'p', 3);
    const [due, extended, released] = await Promise.all(
      ['ada', 'bob', 'cy'].map((learner) => environments.claim({ pool: 'p', learner, scenario: 's', ttlMs: 60_000 })),
    );
    assert.ok(due && extended && released);
    // Given three labs past their expiry, one extended and one released since the reaper looked
    clock += 61_000;
    const until = await environments.extend(extended.id, 30 * 60_000, 2 * 3_600_000);
    await environments.apply(released.id, 'release');

    // Then only the one whose time is still up is released, its learner free to claim again
    assert.deepEqual(await environments.expire(due.id), { outcome: 'expired' });
    assert.equal((await environments.get(due.id)).state, 'releasing');
    assert.equal(await environments.heldBy('ada'), undefined);
    assert.deepEqual(await environments.expire(extended.id), { outcome: 'extended', expiresAt: until });
    assert.equal((await environments.get(extended.id)).state, 'claimed');
    assert.equal((await environments.heldBy('bob'))?.id, extended.id);
    assert.deepEqual(await environments.expire(released.id), { outcome: 'not-claimed', state: 'releasing' });
    // Twice is as good as once; a lab that is gone or was never claimed is no error either
    assert.deepEqual(await environments.expire(due.id), { outcome: 'not-claimed', state: 'releasing' });
    assert.deepEqual(await environments.expire('nope'), { outcome: 'not-claimed' });
    await environments.create({ id: 'fresh', pool: 'p', namespace: 'lab-fresh' });
    assert.deepEqual(await environments.expire('fresh'), { outcome: 'not-claimed', state: 'provisioning' });
    // The caller's clock decides what is due: at the extended expiry, not a millisecond before
    assert.deepEqual(await environments.expire(extended.id, until - 1), { outcome: 'extended', expiresAt: until });
    assert.deepEqual(await environments.expire(extended.id, until), { outcome: 'expired' });
  });
});
