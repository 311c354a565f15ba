import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePoolsConfig } from '@breakfix/manifests';
import { emptyCounts, type StateCounts } from '@breakfix/pool';
import { planTopUp, scheduledMin, type TopUpInput } from '../src/plan.js';

const NOW = Date.parse('2026-12-01T09:00:00Z');
const [pool] = parsePoolsConfig({
  pools: [
    {
      name: 'k8s-1.36-1w',
      kubernetesVersion: '1.36',
      workers: 1,
      min: 3,
      max: 10,
      maxConcurrentProvisions: 4,
      schedule: [
        { from: '2026-12-01T08:30:00Z', to: '2026-12-01T12:00:00Z', min: 8 },
        { from: '2026-12-02T08:30:00Z', to: '2026-12-02T12:00:00Z', min: 6 },
      ],
    },
  ],
});
if (pool === undefined) throw new Error('no pool');
const counts = (c: Partial<StateCounts>): StateCounts => ({ ...emptyCounts(), ...c });
const base: TopUpInput = { pool, counts: emptyCounts(), waiting: 0, now: NOW, capacityLabs: Number.POSITIVE_INFINITY };

test('a scheduled window raises min while it is open, and only then', () => {
  assert.equal(scheduledMin(pool, NOW), 8);
  assert.equal(scheduledMin(pool, Date.parse('2026-12-01T12:00:00Z')), 3, 'the window ends at `to`');
  assert.equal(scheduledMin(pool, Date.parse('2026-12-02T09:00:00Z')), 6);
  assert.equal(scheduledMin(pool, Date.parse('2026-11-30T09:00:00Z')), 3);
});

const cases: { name: string; input: Partial<TopUpInput>; expected: ReturnType<typeof planTopUp> }[] = [
  {
    name: 'an empty pool in a workshop window boots up to the concurrency limit',
    input: {},
    expected: { target: 8, provision: 4, limitedBy: 'concurrency' },
  },
  {
    name: 'booting labs count towards the target',
    input: { counts: counts({ ready: 4, provisioning: 4 }) },
    expected: { target: 8, provision: 0 },
  },
  {
    name: 'queued learners add to the target',
    input: {
      counts: counts({ ready: 0, provisioning: 2, claimed: 6 }),
      waiting: 1,
      now: Date.parse('2026-11-30T09:00:00Z'),
    },
    expected: { target: 4, provision: 2 },
  },
  {
    name: 'live labs never exceed max, claimed ones included',
    input: { counts: counts({ ready: 2, claimed: 7 }) },
    expected: { target: 8, provision: 1, limitedBy: 'max' },
  },
  {
    name: 'releasing labs do not count against max',
    input: { counts: counts({ ready: 8, releasing: 5 }) },
    expected: { target: 8, provision: 0 },
  },
  {
    name: 'the capacity guard holds the pool below its target',
    input: { capacityLabs: 1 },
    expected: { target: 8, provision: 1, limitedBy: 'capacity' },
  },
  {
    name: 'a full host provisions nothing',
    input: { capacityLabs: 0 },
    expected: { target: 8, provision: 0, limitedBy: 'capacity' },
  },
  {
    name: 'a pool in backoff provisions nothing until the pause ends',
    input: { backoffUntil: NOW + 1 },
    expected: { target: 8, provision: 0, limitedBy: 'backoff' },
  },
  {
    name: 'an expired backoff no longer holds',
    input: { backoffUntil: NOW, counts: counts({ ready: 7 }) },
    expected: { target: 8, provision: 1 },
  },
  {
    name: 'the target never exceeds max, however many learners wait',
    input: { waiting: 50, counts: counts({ ready: 10 }) },
    expected: { target: 10, provision: 0 },
  },
];

for (const c of cases) {
  test(`planTopUp: ${c.name}`, () => {
    assert.deepEqual(planTopUp({ ...base, ...c.input }), c.expected);
  });
}

test('a schedule window that ends before it starts, or asks for more than max, is refused naming the field', () => {
  const at = (schedule: unknown) => () =>
    parsePoolsConfig({ pools: [{ name: 'p', kubernetesVersion: '1.36', workers: 0, min: 1, max: 5, schedule }] });
  assert.throws(
    at([{ from: '2026-12-01T12:00:00Z', to: '2026-12-01T08:00:00Z', min: 2 }]),
    /pools\.0\.schedule\.0\.to: from must be before to/,
  );
  assert.throws(
    at([{ from: '2026-12-01T08:00:00Z', to: '2026-12-01T12:00:00Z', min: 9 }]),
    /pools\.0\.schedule: a scheduled min must not exceed max/,
  );
  assert.throws(at([{ from: 'tomorrow', to: '2026-12-01T12:00:00Z', min: 2 }]), /pools\.0\.schedule\.0\.from/);
});
