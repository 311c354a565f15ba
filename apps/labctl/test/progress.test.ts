import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createProgress, elapsed } from '../src/cli/progress.js';

/** A stream that says it is a terminal (or not) and keeps what is written to it. */
function terminal(isTTY = true) {
  const chunks: string[] = [];
  return { isTTY, columns: 40, chunks, write: (chunk: string) => chunks.push(chunk) };
}

const CLEAR = '\r\x1b[K';

describe('the status line', () => {
  test('on a terminal: drawn in place with the time since it was set, lines go above it, stop clears it', () => {
    const stream = terminal();
    let now = 1_000;
    const progress = createProgress({ stream, env: {}, now: () => now, intervalMs: 60_000 });
    assert.equal(progress.live, true);

    progress.status('provisioning lab st-1');
    const first = stream.chunks.at(-1) ?? '';
    assert.ok(first.startsWith(CLEAR), 'drawn from the start of the line');
    assert.match(first.slice(CLEAR.length), /^\S provisioning lab st-1 \(0 s\)$/);

    now += 65_000;
    const printed: string[] = [];
    progress.line('lab st-1 ready', (text) => printed.push(text));
    assert.deepEqual(printed, ['lab st-1 ready']);
    // cleared before the line, redrawn after it
    assert.equal(stream.chunks.at(-2), CLEAR);
    assert.match(stream.chunks.at(-1) ?? '', /provisioning lab st-1 \(1 min 05 s\)$/);

    progress.stop();
    assert.equal(stream.chunks.at(-1), CLEAR);
  });

  test('the same label again keeps counting; a start time given counts from there', () => {
    const stream = terminal();
    let now = 0;
    const progress = createProgress({ stream, env: {}, now: () => now, intervalMs: 60_000 });
    progress.status('waiting for a lab');
    now = 12_000;
    progress.status('waiting for a lab');
    assert.match(stream.chunks.at(-1) ?? '', /waiting for a lab \(12 s\)$/);
    progress.status('number 1 in the queue', -30_000);
    assert.match(stream.chunks.at(-1) ?? '', /number 1 in the queue \(42 s\)$/);
    now = 13_000;
    progress.status('provisioning');
    assert.match(stream.chunks.at(-1) ?? '', /provisioning \(0 s\)$/);
    progress.stop();
  });

  test('a label wider than the terminal is cut, never wrapped onto a second line', () => {
    const stream = terminal();
    const progress = createProgress({ stream, env: {}, intervalMs: 60_000 });
    progress.status('x'.repeat(200));
    progress.stop();
    const drawn = (stream.chunks[0] ?? '').replace(CLEAR, '');
    assert.equal(drawn.length, 39);
    assert.ok(drawn.endsWith('…'));
  });

  const quiet: [string, Parameters<typeof createProgress>[0]][] = [
    ['stderr is not a terminal', { stream: terminal(false), env: {} }],
    ['--json', { stream: terminal(), json: true, env: {} }],
    ['TERM=dumb', { stream: terminal(), env: { TERM: 'dumb' } }],
  ];
  for (const [when, options] of quiet) {
    test(`no status line when ${when}: plain lines only`, () => {
      const stream = options?.stream as ReturnType<typeof terminal>;
      const progress = createProgress(options);
      assert.equal(progress.live, false);
      progress.status('waiting for a lab');
      progress.line('a line');
      progress.stop();
      assert.deepEqual(stream.chunks, ['a line\n']);
    });
  }

  test('elapsed time reads as seconds, then minutes and seconds', () => {
    assert.deepEqual(
      [elapsed(0), elapsed(59_999), elapsed(60_000), elapsed(605_000)],
      ['0 s', '59 s', '1 min 00 s', '10 min 05 s'],
    );
  });
});
