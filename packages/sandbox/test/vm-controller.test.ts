import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decide,
  firstRequestDone,
  nextStartFailure,
  restingPrintableStatus,
  startBackoffMs,
} from '../src/virt/vm-controller.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const vm = (runStrategy: string, status: Record<string, unknown> = {}, deleting = false) => ({
  metadata: deleting ? { deletionTimestamp: '2026-12-01T11:59:00Z' } : {},
  spec: { runStrategy },
  status,
});
const vmi = (phase: string, options: { uid?: string; ran?: boolean; deleting?: boolean } = {}) => ({
  metadata: {
    uid: options.uid ?? 'u1',
    ...(options.deleting ? { deletionTimestamp: '2026-12-01T11:59:00Z' } : {}),
  },
  status: {
    phase,
    phaseTransitionTimestamps: [{ phase: 'Pending' }, ...(options.ran ? [{ phase: 'Running' }] : []), { phase }],
  },
});
const created = { created: true };

describe("KubeVirt's VM controller, decision by decision", () => {
  const cases: [string, ReturnType<typeof vm>, ReturnType<typeof vmi> | undefined, string][] = [
    ['Always, no VMI: start', vm('Always'), undefined, 'start'],
    ['Always, Running: nothing', vm('Always'), vmi('Running', { ran: true }), 'none'],
    ['Always, Failed: stop (then start)', vm('Always'), vmi('Failed', { ran: true }), 'stop'],
    ['Always, Succeeded: stop (then start)', vm('Always'), vmi('Succeeded', { ran: true }), 'stop'],
    ['Always, being deleted: wait for it', vm('Always'), vmi('Succeeded', { deleting: true }), 'none'],
    ['RerunOnFailure, new VM: start', vm('RerunOnFailure'), undefined, 'start'],
    ['RerunOnFailure, Succeeded: stop', vm('RerunOnFailure', created), vmi('Succeeded', { ran: true }), 'stop'],
    [
      'RerunOnFailure, after success: stay stopped',
      vm('RerunOnFailure', { ...created, runStrategy: 'RerunOnFailure' }),
      undefined,
      'none',
    ],
    [
      'RerunOnFailure, start request: start',
      vm('RerunOnFailure', { runStrategy: 'RerunOnFailure', stateChangeRequests: [{ action: 'Start' }] }),
      undefined,
      'start',
    ],
    ['Once, no VMI: start', vm('Once'), undefined, 'start'],
    ['Once, Failed: nothing', vm('Once'), vmi('Failed', { ran: true }), 'none'],
    ['Manual, no request: nothing', vm('Manual'), undefined, 'none'],
    ['Manual, start request: start', vm('Manual', { stateChangeRequests: [{ action: 'Start' }] }), undefined, 'start'],
    ['Manual, Failed: nothing', vm('Manual'), vmi('Failed', { ran: true }), 'none'],
    [
      'Manual, stop request for another VMI: nothing',
      vm('Manual', { stateChangeRequests: [{ action: 'Stop', uid: 'old' }] }),
      vmi('Running'),
      'none',
    ],
    [
      'Manual, stop request for this VMI: stop',
      vm('Manual', { stateChangeRequests: [{ action: 'Stop', uid: 'u1' }] }),
      vmi('Running'),
      'stop',
    ],
    ['Halted, VMI: stop', vm('Halted'), vmi('Running'), 'stop'],
    ['Halted, no VMI: nothing', vm('Halted'), undefined, 'none'],
    [
      'Halted, start request: set Always',
      vm('Halted', { stateChangeRequests: [{ action: 'Start' }] }),
      undefined,
      'set-always',
    ],
    ['an unknown runStrategy: nothing', vm('Sometimes'), undefined, 'none'],
  ];
  for (const [name, given, instance, expected] of cases) {
    test(name, () => assert.equal(decide(given, instance, NOW).kind, expected));
  }

  test('RerunOnFailure queues a start after stopping a failed VMI, not a succeeded one', () => {
    assert.deepEqual(decide(vm('RerunOnFailure', created), vmi('Failed'), NOW), { kind: 'stop', thenStart: true });
    assert.deepEqual(decide(vm('RerunOnFailure', created), vmi('Succeeded', { ran: true }), NOW), { kind: 'stop' });
  });

  test('a start waits for the back-off to end', () => {
    const backingOff = vm('Always', {
      startFailure: { lastFailedVMIUID: 'u1', consecutiveFailCount: 1, retryAfterTimestamp: '2026-12-01T12:00:12Z' },
    });
    assert.deepEqual(decide(backingOff, undefined, NOW), { kind: 'wait', ms: 12_000 });
    assert.deepEqual(decide(backingOff, undefined, NOW + 12_000), { kind: 'start' });
  });

  test('state change requests are trimmed once acted on', () => {
    assert.equal(firstRequestDone(vm('Manual', { stateChangeRequests: [{ action: 'Start' }] }), undefined), false);
    assert.equal(
      firstRequestDone(vm('Manual', { stateChangeRequests: [{ action: 'Start' }] }), vmi('Scheduling')),
      true,
    );
    const stop = vm('Manual', { stateChangeRequests: [{ action: 'Stop', uid: 'u1' }] });
    assert.equal(firstRequestDone(stop, vmi('Running')), false);
    assert.equal(firstRequestDone(stop, undefined), true);
  });
});

describe('start failures and their back-off', () => {
  test('KubeVirt constants: 10 s x failures², plus up to half again, capped at 300 s', () => {
    assert.equal(
      startBackoffMs(1, {}, () => 0),
      10_000,
    );
    assert.equal(
      startBackoffMs(1, {}, () => 1 - Number.EPSILON),
      15_000,
    );
    assert.equal(
      startBackoffMs(2, {}, () => 0),
      40_000,
    );
    assert.equal(
      startBackoffMs(3, {}, () => 0),
      90_000,
    );
    assert.equal(
      startBackoffMs(6, {}, () => 0),
      300_000,
    );
  });

  test('a VMI that failed without running counts once; one that ran clears the count', () => {
    const failed = vmi('Failed', { uid: 'a' });
    const first = nextStartFailure(vm('Always'), failed, NOW, {}, () => 0);
    assert.deepEqual(first, {
      lastFailedVMIUID: 'a',
      consecutiveFailCount: 1,
      retryAfterTimestamp: '2026-12-01T12:00:10Z',
    });
    assert.equal(nextStartFailure(vm('Always', { startFailure: first }), failed, NOW), undefined, 'counted once');
    const again = nextStartFailure(
      vm('Always', { startFailure: first }),
      vmi('Failed', { uid: 'b' }),
      NOW,
      {},
      () => 0,
    );
    assert.equal(again?.consecutiveFailCount, 2);
    assert.equal(again?.retryAfterTimestamp, '2026-12-01T12:00:40Z');
    assert.equal(nextStartFailure(vm('Always', { startFailure: first }), vmi('Running', { ran: true }), NOW), null);
    assert.equal(nextStartFailure(vm('Manual', { startFailure: first }), failed, NOW), null, 'Manual never restarts');
  });

  test('printable status at rest: CrashLoopBackOff while start failures count, else Stopped', () => {
    const failure = { lastFailedVMIUID: 'a', consecutiveFailCount: 1, retryAfterTimestamp: '2026-12-01T12:00:10Z' };
    assert.equal(restingPrintableStatus(vm('Always', { startFailure: failure }), undefined), 'CrashLoopBackOff');
    assert.equal(restingPrintableStatus(vm('Halted'), undefined), 'Stopped');
    assert.equal(restingPrintableStatus(vm('Always'), vmi('Running', { deleting: true })), 'Stopping');
    assert.equal(restingPrintableStatus(vm('Always', {}, true), undefined), 'Terminating');
  });
});
