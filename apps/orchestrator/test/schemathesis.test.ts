import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { closeFixtures, startPlatform, TOKENS } from './fixture.js';

// The OpenAPI document is a contract: schemathesis generates requests from it (valid ones, and
// ones that break a declared constraint), walks the links from a claim to the lab's operations,
// sends undeclared methods, drops the token, and checks every answer against the document.
//
// It fuzzes a platform of its own (startPlatform): its own Redis prefix and its own pools, with
// labs it booted itself, so the claims it makes never take a lab another test file expects.

const root = fileURLToPath(new URL('../../../', import.meta.url));
const CONFIG = fileURLToPath(new URL('./schemathesis.toml', import.meta.url));
const REPORTS = fileURLToPath(new URL('../../../test-results/schemathesis/', import.meta.url));
/** A fixed seed: a failure found once is found again on the next run. */
const SEED = '20261201';
/** Test cases per operation and phase: enough to cover every declared constraint, small enough for 2 busy cores. */
const EXAMPLES = '25';

const closers: (() => Promise<void>)[] = [];
after(() => closeFixtures(closers));

let base: string;

/** scripts/install-schemathesis.sh installs the pinned version into breakfix's cache; it prints the path last. */
function schemathesisPath(): string {
  const install = spawnSync('bash', [`${root}scripts/install-schemathesis.sh`], { encoding: 'utf8' });
  assert.equal(install.status, 0, `scripts/install-schemathesis.sh failed:\n${install.stdout}${install.stderr}`);
  return install.stdout.trim().split('\n').at(-1) ?? '';
}

before(async () => {
  // The rate limit is raised: the fuzzer acts for few learners, many times a second, and a 429
  // would hide the answer the request was made for (the limit has its own test in api.test.ts).
  const platform = await startPlatform({ ready: 2, overrides: { rateLimit: { limit: 1_000_000 } } });
  closers.push(() => platform.queues.close());
  const server = serve({ fetch: platform.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  closers.unshift(() => new Promise<void>((resolve) => server.close(() => resolve())));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

test('schemathesis finds no request the server answers against its OpenAPI document', {
  timeout: 600_000,
}, async (t) => {
  const schemathesis = schemathesisPath();
  mkdirSync(REPORTS, { recursive: true });
  const args = [
    '--config-file',
    CONFIG,
    'run',
    `${base}/openapi.json`,
    '--checks',
    'all',
    // Releasing a lab ends its claim, not its record: GET /v1/labs/{id} afterwards says it is
    // releasing and how it ended (`ended`), which learners and the dashboard rely on. schemathesis
    // takes any 2xx after a DELETE for a use after free, so that one check is left out.
    '--exclude-checks',
    'use_after_free',
    '--phases',
    'examples,coverage,fuzzing,stateful',
    '--seed',
    SEED,
    '--max-examples',
    EXAMPLES,
    '--workers',
    '1',
    '--request-timeout',
    '30',
    // An admin may call every operation, /v1/admin included; ignored_auth drops or spoils it.
    '--header',
    `Authorization: Bearer ${TOKENS.admin.token}`,
    '--no-color',
    '--report',
    'junit',
    '--report-dir',
    REPORTS,
  ];
  const child = spawn(schemathesis, args, { cwd: REPORTS, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  // The token is a secret of this run only, but the output is no place for it either way.
  const shown = output.replaceAll(TOKENS.admin.token, '<admin token>');
  assert.equal(code, 0, `schemathesis reported failures (exit ${code}):\n${shown}`);
  // And it tested something: every generated case passed.
  const cases = /(\d+) generated, (\d+) passed/.exec(shown);
  assert.ok(cases !== null && Number(cases[1]) > 0 && cases[1] === cases[2], shown);
  for (const line of shown.split('\n').filter((l) => /API Links:|Scenarios:|generated,/.test(l))) {
    t.diagnostic(line.trim());
  }
});
