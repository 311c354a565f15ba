import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '@breakfix/client';
import {
  ConflictError,
  DeadlineExceededError,
  InvalidInputError,
  NotFoundError,
  UnsupportedEnvironmentError,
  UpstreamError,
} from '@breakfix/core';
import { CommanderError } from 'commander';
import { EXIT, outcomeOf } from '../src/cli/exit-codes.js';

const apiError = (code: string, status: number) =>
  new ApiError({ type: 'about:blank', title: code, status, detail: `the API said ${code}`, code });

const fsError = (code: string) => Object.assign(new Error(`${code}: open 'key.pub'`), { code, path: 'key.pub' });

const cases: [string, unknown, number][] = [
  ['commander printed --help', new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'), EXIT.ok],
  ['commander printed --version', new CommanderError(0, 'commander.version', '0.1.0'), EXIT.ok],
  ['an unknown flag', new CommanderError(1, 'commander.unknownOption', "unknown option '--x'"), EXIT.usage],
  ['a missing subcommand (help on stderr)', new CommanderError(1, 'commander.help', '(outputHelp)'), EXIT.usage],
  ['`labctl help`', new CommanderError(0, 'commander.help', '(outputHelp)'), EXIT.ok],
  ['invalid input', new InvalidInputError('--k8s is required'), EXIT.usage],
  ['not found', new NotFoundError('no scenario "x"'), EXIT.unavailable],
  ['an unreachable upstream', new UpstreamError('cannot reach the breakfix API'), EXIT.unavailable],
  ['a missing golden image', new UnsupportedEnvironmentError('no golden image'), EXIT.unavailable],
  ['a deadline', new DeadlineExceededError('no lab within 600 s'), EXIT.timeout],
  ['a conflict', new ConflictError('already holds a lab'), EXIT.failure],
  ['API invalid_input', apiError('invalid_input', 400), EXIT.usage],
  ['API not_found', apiError('not_found', 404), EXIT.unavailable],
  ['API pool_exhausted', apiError('pool_exhausted', 503), EXIT.unavailable],
  ['API deadline_exceeded', apiError('deadline_exceeded', 504), EXIT.timeout],
  ['API unauthorized', apiError('unauthorized', 401), EXIT.failure],
  ['API conflict', apiError('conflict', 409), EXIT.failure],
  ['a proxy 502 without a problem body', apiError('http_502', 502), EXIT.unavailable],
  ['a file named on the line that is not there', fsError('ENOENT'), EXIT.usage],
  ['a file that may not be read', fsError('EACCES'), EXIT.usage],
  [
    'a refused connection',
    Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    EXIT.unavailable,
  ],
  ['a bug', new TypeError('x is undefined'), EXIT.failure],
];

test('every failure maps to one exit code, in one place', () => {
  for (const [what, error, exitCode] of cases) assert.equal(outcomeOf(error).exitCode, exitCode, what);
});

test('the words: the API code and hint, no stack trace for named failures, the stack for a bug', () => {
  assert.equal(
    outcomeOf(new NotFoundError('no scenario "x" in the catalog', { hint: 'see `labctl scenario list`' })).message,
    'no scenario "x" in the catalog\n  -> see `labctl scenario list`',
  );
  assert.equal(outcomeOf(apiError('pool_exhausted', 503)).message, 'the API said pool_exhausted (pool_exhausted)');
  assert.equal(outcomeOf(new CommanderError(1, 'commander.unknownOption', 'said already')).message, '');
  assert.match(outcomeOf(new TypeError('x is undefined')).message, /^TypeError: x is undefined\n\s+at /);
});
