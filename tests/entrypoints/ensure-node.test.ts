import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/ensure-node.sh', import.meta.url));
const version = /^version=(\S+)$/m.exec(readFileSync(SCRIPT, 'utf8'))?.[1] ?? assert.fail('no version= in the script');
const major = version.split('.')[0];
const scratch = mkdtempSync(join(tmpdir(), 'ensure-node-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * A folder whose `node` says it is a Node 20 (`node -v`) and otherwise runs this test's node, so
 * that npm (`#!/usr/bin/env node`) and the script's own checks still work.
 */
function oldNodeOnPath(): string {
  const bin = mkdtempSync(join(scratch, 'old-node-'));
  writeFileSync(
    join(bin, 'node'),
    `#!/bin/sh\nif [ "$1" = -v ]; then echo v20.11.0; exit 0; fi\nexec '${process.execPath}' "$@"\n`,
  );
  chmodSync(join(bin, 'node'), 0o755);
  return bin;
}

function ensureNode(pathFirst: string, cache: string, env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      'bash',
      [SCRIPT, 'node', '-p', 'process.execPath + " " + process.version + " " + process.env.NODE'],
      {
        env: { ...process.env, PATH: `${pathFirst}:${process.env.PATH}`, BREAKFIX_CACHE_DIR: cache, ...env },
        timeout: 240_000,
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('given a Node of the pinned major on PATH, the command runs on it and nothing is installed', {
  timeout: 30_000,
}, async () => {
  const cache = mkdtempSync(join(scratch, 'cache-'));
  const { code, stdout, stderr } = await ensureNode(dirname(process.execPath), cache);
  assert.equal(code, 0, stderr);
  assert.equal(realpathSync(stdout.split(' ')[0] ?? ''), realpathSync(process.execPath));
  assert.equal(stdout.split(' ')[1], process.version);
  assert.deepEqual(readdirSync(cache), []);
});

test('given an old Node on PATH, two scripts starting at once install the pinned Node once and run on it', {
  timeout: 300_000,
}, async () => {
  const cache = mkdtempSync(join(scratch, 'cache-'));
  const old = oldNodeOnPath();
  const home = join(cache, `node-${version}`, 'bin', 'node');
  // When two npm scripts start at the same moment on an empty cache
  const runs = await Promise.all([ensureNode(old, cache), ensureNode(old, cache)]);
  // Then both run their command on the pinned Node, with npm's NODE pointing at it too
  for (const { code, stdout, stderr } of runs) {
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), `${home} v${version} ${home}`);
  }
  assert.match(runs.map((r) => r.stderr).join(''), new RegExp(`installing Node ${version}`));
  // And one copy is left in the cache, no half-written or temporary one beside it
  assert.deepEqual(readdirSync(cache), [`node-${version}`]);
  // And the next run uses that copy without installing anything
  const again = await ensureNode(old, cache);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.trim(), `${home} v${version} ${home}`);
  assert.equal(again.stderr, '');
});

test('given an old Node and no registry, it fails and says what to do', { timeout: 60_000 }, async () => {
  // A port that refuses connections: a server that listened on it and closed.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const cache = mkdtempSync(join(scratch, 'cache-'));
  const npmCache = join(scratch, 'npm-cache-empty');
  mkdirSync(npmCache, { recursive: true });
  const { code, stdout, stderr } = await ensureNode(oldNodeOnPath(), cache, {
    npm_config_registry: `http://127.0.0.1:${port}/`,
    npm_config_cache: npmCache,
    npm_config_fetch_retries: '0',
  });
  assert.equal(code, 1, stdout);
  assert.equal(stdout, '', 'the command did not run');
  assert.match(stderr, new RegExp(`could not download Node ${version}`));
  assert.match(stderr, new RegExp(`make the npm registry reachable \\(http://127.0.0.1:${port}/\\)`));
  assert.match(stderr, new RegExp(`install Node ${major} yourself and put it first on PATH`));
  assert.deepEqual(readdirSync(cache), [], 'nothing half-installed is left');
});
