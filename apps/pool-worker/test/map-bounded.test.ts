import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapBounded } from '../src/map-bounded.js';

/** A call that finishes when the test says so, so in-flight counts are exact rather than timed. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

test('keeps at most `limit` calls in flight and returns results in the items order', { timeout: 10_000 }, async () => {
  // Given 10 items whose calls finish when the test opens their gate
  const gates = Array.from({ length: 10 }, gate);
  const inFlight = new Set<number>();
  let most = 0;
  let done = false;
  const running = mapBounded(gates, 3, async (g, index) => {
    inFlight.add(index);
    most = Math.max(most, inFlight.size);
    await g.opened;
    inFlight.delete(index);
    return index * 10;
  }).finally(() => {
    done = true;
  });
  // When the latest started call is always the one let finish
  while (!done) {
    await new Promise((resolve) => setImmediate(resolve));
    const latest = Math.max(-1, ...inFlight);
    if (latest >= 0) gates[latest]?.open();
  }
  // Then no more than 3 ran at once, and the results follow the items, not the finishing order
  assert.deepEqual(await running, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  assert.equal(most, 3);
});

test('the first failure rejects and no new call starts after it', { timeout: 10_000 }, async () => {
  const started: number[] = [];
  await assert.rejects(
    mapBounded([0, 1, 2, 3, 4, 5], 2, async (item) => {
      started.push(item);
      if (item === 1) throw new Error('boom');
      return item;
    }),
    /boom/,
  );
  assert.ok(!started.includes(5), `started ${started.join(',')}`);
});

test('an empty list needs no call; a limit below 1 is refused', { timeout: 10_000 }, async () => {
  assert.deepEqual(await mapBounded([], 4, async () => 1), []);
  await assert.rejects(
    mapBounded([1], 0, async () => 1),
    RangeError,
  );
});
