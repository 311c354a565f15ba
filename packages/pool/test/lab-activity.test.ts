import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import { closeRedisConnections, uniqueName, useSandbox } from '@breakfix/testkit';
import { createLabActivity, type LabEvent, labEventsChannel, parseLabEvent, publishLabEvent } from '../src/index.js';

after(closeRedisConnections);

describe('lab activity', { timeout: 30_000 }, () => {
  test('touch moves the last activity forward, never back', async () => {
    const { redis } = await useSandbox();
    let clock = 1_000_000;
    const activity = createLabActivity({ redis: redis(), prefix: uniqueName('act'), now: () => clock });
    assert.equal(await activity.lastActivity('lab-1'), undefined);
    await activity.touch('lab-1');
    assert.equal(await activity.lastActivity('lab-1'), 1_000_000);
    clock = 900_000;
    await activity.touch('lab-1');
    assert.equal(await activity.lastActivity('lab-1'), 1_000_000);
    clock = 2_000_000;
    await activity.touch('lab-1');
    assert.equal(await activity.lastActivity('lab-1'), 2_000_000);
    assert.equal(await activity.lastActivity('lab-2'), undefined);
  });

  test('open terminals count until closed, and opening or closing one is activity', async () => {
    const { redis } = await useSandbox();
    let clock = 5_000;
    const activity = createLabActivity({ redis: redis(), prefix: uniqueName('act'), now: () => clock });
    const closeFirst = await activity.terminalOpened('lab-1');
    const closeSecond = await activity.terminalOpened('lab-1');
    assert.equal(await activity.openTerminals('lab-1'), 2);
    assert.equal(await activity.openTerminals('lab-2'), 0);
    assert.equal(await activity.lastActivity('lab-1'), 5_000);
    clock = 9_000;
    await closeFirst();
    await closeFirst();
    assert.equal(await activity.openTerminals('lab-1'), 1);
    assert.equal(await activity.lastActivity('lab-1'), 9_000);
    await closeSecond();
    assert.equal(await activity.openTerminals('lab-1'), 0);
  });

  test('a terminal kept alive by its heartbeat stays open; one whose process died lapses', async () => {
    const { redis } = await useSandbox();
    const prefix = uniqueName('act');
    const living = createLabActivity({ redis: redis(), prefix, terminalTtlMs: 300, heartbeatMs: 50 });
    const close = await living.terminalOpened('lab-1');
    // A second process that dies without closing: its lease is written once and never renewed.
    const dying = createLabActivity({ redis: redis(), prefix, terminalTtlMs: 300, heartbeatMs: 60_000 });
    await dying.terminalOpened('lab-1');
    assert.equal(await living.openTerminals('lab-1'), 2);
    const deadline = Date.now() + 5_000;
    while ((await living.openTerminals('lab-1')) !== 1) {
      assert.ok(Date.now() < deadline, 'the dead terminal never lapsed');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(await living.openTerminals('lab-1'), 1, 'the heartbeat keeps the living terminal open');
    await close();
    assert.equal(await living.openTerminals('lab-1'), 0);
  });

  test('lab events go out as JSON on the lab-events channel', async () => {
    const { redis } = await useSandbox();
    const prefix = uniqueName('act');
    const subscriber = redis();
    await subscriber.subscribe(labEventsChannel(prefix));
    const received = once(subscriber, 'message');
    const event: LabEvent = { labId: 'lab-1', kind: 'idle-warning', message: 'idle', releaseAt: 42 };
    await publishLabEvent(redis(), event, prefix);
    const [channel, message] = (await received) as [string, string];
    assert.equal(channel, `${prefix}:lab-events`);
    assert.deepEqual(parseLabEvent(message), event);
    assert.equal(parseLabEvent('{"kind":"nope"}'), undefined);
    assert.equal(parseLabEvent('not json'), undefined);
    await subscriber.unsubscribe();
  });
});
