import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/ensure-node-modules.sh', import.meta.url));

/**
 * A checkout with the script in it and an `npm` on PATH that records its arguments and writes
 * node_modules/.package-lock.json as npm ci does.
 */
function checkout() {
  const root = mkdtempSync(join(tmpdir(), 'checkout-'));
  mkdirSync(join(root, 'scripts'));
  copyFileSync(SCRIPT, join(root, 'scripts/ensure-node-modules.sh'));
  writeFileSync(join(root, 'package-lock.json'), '{}\n');
  const bin = join(root, 'bin');
  mkdirSync(bin);
  const calls = join(root, 'npm-calls');
  writeFileSync(
    join(bin, 'npm'),
    `#!/bin/sh\necho "$PWD $*" >> ${calls}\nmkdir -p node_modules && echo '{}' > node_modules/.package-lock.json\n`,
  );
  chmodSync(join(bin, 'npm'), 0o755);
  const run = () =>
    execFileSync('bash', [join(root, 'scripts/ensure-node-modules.sh')], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 10_000,
    });
  const npmCalls = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : []);
  return { root, run, npmCalls };
}

test('a fresh clone gets npm ci before npm test runs, once; a newer package-lock.json gets it again', {
  timeout: 30_000,
}, () => {
  const { root, run, npmCalls } = checkout();
  run();
  assert.deepEqual(npmCalls(), [`${root} ci --no-audit --no-fund`], 'no node_modules: install');
  run();
  assert.equal(npmCalls().length, 1, 'installed and up to date: nothing to do');
  // a pull that changes the lock file
  const later = new Date(Date.now() + 60_000);
  utimesSync(join(root, 'package-lock.json'), later, later);
  run();
  assert.equal(npmCalls().length, 2, 'lock file newer than what npm installed: install again');
});

test('node_modules built by another Node gets its native addons rebuilt (npm rebuild), once', {
  timeout: 30_000,
}, () => {
  const { root, run, npmCalls } = checkout();
  run();
  // Given node_modules that a Node 20's npm built (ABI 115)
  writeFileSync(join(root, 'node_modules/.breakfix-node-abi'), '115\n');
  // When a script runs on this Node
  run();
  // Then the addons are rebuilt for it, and the next run has nothing to do
  assert.deepEqual(npmCalls().slice(1), [`${root} rebuild`]);
  assert.equal(readFileSync(join(root, 'node_modules/.breakfix-node-abi'), 'utf8').trim(), process.versions.modules);
  run();
  assert.equal(npmCalls().length, 2);
});

test('with a command after it, the script runs that command once node_modules is ready', { timeout: 30_000 }, () => {
  const { root } = checkout();
  const out = execFileSync('bash', [join(root, 'scripts/ensure-node-modules.sh'), 'echo', 'ran'], {
    env: { ...process.env, PATH: `${join(root, 'bin')}:${process.env.PATH}` },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10_000,
  });
  assert.equal(out.toString(), 'ran\n');
});
