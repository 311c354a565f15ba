import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { latency, MIN_SAMPLES, value } from './stats.js';

const samples = (n: number) => Array.from({ length: n }, (_, i) => n - i); // n..1, unsorted on purpose

describe('benchmark figures', () => {
  for (const { n, named } of [
    { n: 2, named: [] },
    { n: 3, named: ['p50'] },
    { n: 19, named: ['p50'] },
    { n: 20, named: ['p50', 'p90'] },
    { n: 199, named: ['p50', 'p90'] },
    { n: 200, named: ['p50', 'p90', 'p99'] },
  ]) {
    test(`${n} samples name ${named.join(', ') || 'no percentile'}, and always max and n`, () => {
      const figure = latency('x', samples(n));
      assert.equal(figure.n, n);
      assert.equal(figure.max, n);
      for (const p of ['p50', 'p90', 'p99'] as const) {
        assert.equal(p in figure, named.includes(p), `${p} with ${n} samples (needs ${MIN_SAMPLES[p]})`);
      }
    });
  }

  test('percentiles are nearest-rank over all samples, failures counted beside them', () => {
    const figure = latency('claim', samples(200), { failures: 3 });
    assert.deepEqual(figure, {
      name: 'claim',
      unit: 'ms',
      n: 200,
      p50: 100,
      p90: 180,
      p99: 198,
      max: 200,
      failures: 3,
    });
  });

  test('no samples is an error, not a figure of zero', () => {
    assert.throws(() => latency('empty', []), /empty: no samples/);
  });

  test('a single number carries how many operations it stands for', () => {
    assert.deepEqual(value('rate', 1234.567, 'ops/s', { n: 2000, failures: 0 }), {
      name: 'rate',
      unit: 'ops/s',
      n: 2000,
      value: 1234.6,
      failures: 0,
    });
    assert.deepEqual(value('fill', 16.64, 's'), { name: 'fill', unit: 's', n: 1, value: 16.6 });
  });
});
