import assert from 'node:assert/strict';
import { test } from 'node:test';
import { claimAddressPrefix } from '../src/ports.js';

test('two sandboxes that draw the same loopback prefix still get different ones', { timeout: 10_000 }, async () => {
  // Given a draw that always prefers the same candidates, as two unlucky sandboxes would
  const sameDraw = () => 0.5;
  const first = await claimAddressPrefix(sameDraw);
  try {
    // When a second sandbox draws the same way while the first runs
    const second = await claimAddressPrefix(sameDraw);
    try {
      // Then it gets another /16
      assert.match(first.prefix, /^127\.(6[4-9]|[7-9]\d|1[0-8]\d|19[01])$/);
      assert.notEqual(second.prefix, first.prefix);
    } finally {
      await second.release();
    }
    // And once the first lets go, the same draw gets its prefix again
    await first.release();
    const third = await claimAddressPrefix(sameDraw);
    try {
      assert.equal(third.prefix, first.prefix);
    } finally {
      await third.release();
    }
  } finally {
    await first.release().catch(() => {});
  }
});
