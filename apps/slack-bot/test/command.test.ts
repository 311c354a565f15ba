import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type LabCommand, parseCommand } from '../src/command.js';
import { createRateLimiter, createSeen } from '../src/rate-limit.js';

const cases: [string, LabCommand][] = [
  ['', { kind: 'help' }],
  ['help', { kind: 'help' }],
  ['  LIST ', { kind: 'list' }],
  ['start kubelet-crashloop', { kind: 'start', scenario: 'kubelet-crashloop' }],
  ['start', { kind: 'invalid', message: 'say which scenario: `/lab start <scenario>` (see `/lab list`)' }],
  [
    'start Kubelet Crash',
    { kind: 'invalid', message: 'say which scenario: `/lab start <scenario>` (see `/lab list`)' },
  ],
  ['status now', { kind: 'invalid', message: '`/lab status` takes no arguments' }],
  ['open', { kind: 'open' }],
  ['key ssh-ed25519 AAAAC3 ada@laptop', { kind: 'key', publicKey: 'ssh-ed25519 AAAAC3 ada@laptop' }],
  ['key', { kind: 'invalid', message: 'paste your public key: `/lab key ssh-ed25519 AAAA... you@laptop`' }],
  ['admin labs', { kind: 'admin-labs' }],
  ['admin release e-1234', { kind: 'admin-release', labId: 'e-1234' }],
  [
    'admin drop-tables',
    { kind: 'invalid', message: 'admin commands: `/lab admin labs`, `/lab admin release <lab id>`' },
  ],
  ['sudo make me a sandwich', { kind: 'invalid', message: 'there is no `/lab sudo`; try `/lab help`' }],
];

for (const [text, expected] of cases) {
  test(`/lab ${text || '(nothing)'}`, () => assert.deepEqual(parseCommand(text), expected));
}

test('the rate limiter lets a burst through, then one command per refill period', () => {
  let now = 0;
  const limiter = createRateLimiter({ burst: 2, refillMs: 1_000, now: () => now });
  assert.deepEqual([limiter.take('u'), limiter.take('u'), limiter.take('u')], [true, true, false]);
  assert.equal(limiter.take('v'), true, 'buckets are per user');
  now += 999;
  assert.equal(limiter.take('u'), false);
  now += 1;
  assert.equal(limiter.take('u'), true);
});

test('a retried request is seen once within the window, and again after it', () => {
  let now = 0;
  const seen = createSeen({ ttlMs: 1_000, now: () => now });
  assert.deepEqual([seen.first('a'), seen.first('a'), seen.first('b')], [true, false, true]);
  now += 1_001;
  assert.equal(seen.first('a'), true);
});
