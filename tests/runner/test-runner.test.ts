import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const lastLine = (text: string) => text.trim().split('\n').at(-1);
// A node started by a test inherits NODE_TEST_CONTEXT and would report to this run instead.
const { NODE_TEST_CONTEXT: _, ...env } = process.env;

test('the summary line counts skipped and todo tests apart from passed and failed', { timeout: 60_000 }, () => {
  const result = spawnSync(
    process.execPath,
    ['--test', `--test-reporter=${join(root, 'scripts/summary-reporter.mjs')}`, 'tests/runner/fixtures-counts.mjs'],
    { cwd: root, encoding: 'utf8', timeout: 50_000, env: { ...env, BREAKFIX_TEST_COUNTS: '' } },
  );
  assert.notEqual(result.status, 0, 'a failed test fails the run');
  assert.equal(lastLine(result.stdout), '1 passed, 1 failed, 2 skipped');
});

test('npm test with a path that holds no test file fails, naming the path', { timeout: 120_000 }, () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/test.ts', 'packages/no-such-package'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 110_000,
    env,
  });
  assert.equal(result.status, 1);
  assert.match(result.stdout, /finding test files under packages\/no-such-package .*failed/);
  assert.equal(lastLine(result.stdout), '0 passed, 1 failed, 0 skipped');
});
