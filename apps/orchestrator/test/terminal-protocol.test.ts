import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readCookie } from '../src/terminal/access-links.js';
import { parseClientFrame } from '../src/terminal/protocol.js';

test('only well-formed browser frames are taken; anything else is dropped', () => {
  const cases: [string, string | Buffer, boolean, unknown][] = [
    ['keystrokes', '{"t":"i","d":"ls\\r"}', false, { t: 'i', d: 'ls\r' }],
    ['a resize', '{"t":"r","cols":120,"rows":40}', false, { t: 'r', cols: 120, rows: 40 }],
    ['a binary frame', Buffer.from('{"t":"i","d":"x"}'), true, undefined],
    ['not JSON', 'ls -l', false, undefined],
    ['input that is not text', '{"t":"i","d":42}', false, undefined],
    ['a zero-width window', '{"t":"r","cols":0,"rows":40}', false, undefined],
    ['an absurd window', '{"t":"r","cols":100000,"rows":40}', false, undefined],
    ['a fractional size', '{"t":"r","cols":80.5,"rows":24}', false, undefined],
    ['an unknown kind', '{"t":"exec","d":"rm -rf /"}', false, undefined],
    ['null', 'null', false, undefined],
  ];
  for (const [what, data, isBinary, expected] of cases) {
    assert.deepEqual(parseClientFrame(Buffer.from(data), isBinary), expected, what);
  }
});

test('the session cookie is read by its exact name', () => {
  assert.equal(readCookie('a=1; breakfix_terminal=abc_-1; b=2', 'breakfix_terminal'), 'abc_-1');
  assert.equal(readCookie('xbreakfix_terminal=evil', 'breakfix_terminal'), undefined);
  assert.equal(readCookie(undefined, 'breakfix_terminal'), undefined);
});
