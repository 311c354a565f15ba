import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeadlineExceededError, waitFor, withDeadline } from '../src/index.js';

describe('deadlines', () => {
  test('waitFor returns the first defined value', async () => {
    let calls = 0;
    const value = await waitFor(async () => (++calls === 3 ? 'ready' : undefined), {
      what: 'x',
      timeoutMs: 1_000,
      intervalMs: 1,
    });
    assert.equal(value, 'ready');
    assert.equal(calls, 3);
  });

  test('waitFor names what it waited for and the last error', async () => {
    await assert.rejects(
      waitFor(
        async () => {
          throw new Error('connection refused');
        },
        { what: 'the apiserver', timeoutMs: 30, intervalMs: 5 },
      ),
      (error: unknown) => {
        assert.ok(error instanceof DeadlineExceededError);
        assert.match(error.message, /waiting for the apiserver: last error: connection refused/);
        return true;
      },
    );
  });

  test('waitFor ends at once on an error the caller calls final, and retries the others', async () => {
    class Final extends Error {}
    let calls = 0;
    const started = Date.now();
    await assert.rejects(
      waitFor(
        async () => {
          calls++;
          throw calls < 3 ? new Error('not yet') : new Final('the bootstrap failed');
        },
        { what: 'a lab', timeoutMs: 60_000, intervalMs: 5, isFinal: (error) => error instanceof Final },
      ),
      (error: unknown) => error instanceof Final,
    );
    assert.equal(calls, 3);
    assert.ok(Date.now() - started < 10_000, 'long before the deadline');
  });

  test('withDeadline aborts the work and rejects when time runs out', async () => {
    let aborted = false;
    await assert.rejects(
      withDeadline('a slow call', 20, (signal) => {
        signal.addEventListener('abort', () => {
          aborted = true;
        });
        return new Promise(() => {});
      }),
      /a slow call did not finish within 20 ms/,
    );
    assert.equal(aborted, true);
  });

  test('withDeadline passes results through', async () => {
    assert.equal(await withDeadline('fast', 1_000, async () => 42), 42);
  });
});
