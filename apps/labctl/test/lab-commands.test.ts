import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { closeFixtures, EMPTY_SCENARIO, SCENARIO, startPlatform, TOKENS } from '../../orchestrator/test/fixture.js';
import { CLEAR_LINE, onTerminal } from './on-terminal.js';

const LABCTL = fileURLToPath(new URL('../bin/labctl.mjs', import.meta.url));
const closers: (() => Promise<void>)[] = [];
after(() => closeFixtures(closers));

let apiUrl: string;

before(async () => {
  const platform = await startPlatform({ ready: 1 });
  closers.push(() => platform.queues.close());
  const server = serve({ fetch: platform.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  closers.unshift(() => new Promise<void>((resolve) => server.close(() => resolve())));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

function labctl(cwd: string, env: Record<string, string>, ...args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const clean = { ...process.env, BREAKFIX_API_URL: '', BREAKFIX_TOKEN: '', BREAKFIX_LEARNER: '', ...env };
    execFile(process.execPath, [LABCTL, ...args], { cwd, env: clean }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('a newcomer in a sandbox checkout claims with no flags, sees status, hints, checks and releases', async () => {
  // Given a checkout whose sandbox published its API in .breakfix/sandbox.json, and no env
  const checkout = mkdtempSync(join(tmpdir(), 'checkout-'));
  mkdirSync(join(checkout, '.breakfix'));
  writeFileSync(join(checkout, '.breakfix', 'sandbox.json'), JSON.stringify({ apiUrl, apiToken: TOKENS.admin.token }));
  const cwd = join(checkout, 'somewhere', 'deep');
  mkdirSync(cwd, { recursive: true });
  const as = { BREAKFIX_LEARNER: 'newcomer' };

  // When they claim with --json, then the JSON carries everything ssh needs, and the files are written
  const claimed = await labctl(cwd, as, 'claim', SCENARIO, '--json');
  assert.equal(claimed.code, 0, claimed.stderr);
  const lab = JSON.parse(claimed.stdout) as Record<string, string | number>;
  for (const field of ['id', 'host', 'port', 'user', 'knownHosts', 'privateKey', 'command']) {
    assert.ok(lab[field] !== undefined, `claim --json has ${field}`);
  }
  assert.equal(readFileSync(join(cwd, `breakfix-${lab.id}.known_hosts`), 'utf8'), `${lab.knownHosts}\n`);
  assert.equal(statSync(join(cwd, `breakfix-${lab.id}.key`)).mode & 0o777, 0o600);

  // Status reads as a list; pools and labs as tables
  const status = await labctl(cwd, as, 'status');
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`^lab +${lab.id}\\nstate +claimed\\n`));
  assert.match(status.stdout, /ssh +ssh -i breakfix-\S+\.key /);
  const pools = await labctl(cwd, {}, 'pools');
  assert.match(
    pools.stdout,
    /^POOL +K8S +WORKERS +READY +MIN +TARGET +BOOTING +CLAIMED +MAX +FAILED +WAITING +HELD BY\n─+/,
  );
  const labs = await labctl(cwd, {}, 'labs', '--state', 'claimed');
  assert.match(labs.stdout, new RegExp(`${lab.id} +claimed +\\S+ +newcomer +${SCENARIO}`));

  // Hint and check act on the learner's lab without naming it
  assert.match((await labctl(cwd, as, 'hint')).stdout, /^hint 1 of 3: /);
  const check = await labctl(cwd, as, 'check', '--json');
  assert.equal((JSON.parse(check.stdout) as { solved: boolean }).solved, false);
  assert.equal(check.code, 1, 'not solved yet is a failure, for scripts');
  assert.match((await labctl(cwd, as, 'check')).stdout, /^not solved yet:\n {2}- /);
  assert.match((await labctl(cwd, as, 'extend', '--minutes', '5')).stdout, /left\n$/);

  // Release, then status says there is nothing, in words
  assert.match((await labctl(cwd, as, 'release')).stdout, /released/);
  const gone = await labctl(cwd, as, 'status');
  assert.equal(gone.code, 3, 'not found');
  assert.match(gone.stderr, /^labctl: learner newcomer holds no lab \(not_found\)\n {2}-> claim one\n$/);
});

test('claim waits with its place in the queue while the pool is empty, and gives up at its timeout', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'labctl-'));
  const env = { BREAKFIX_API_URL: apiUrl, BREAKFIX_TOKEN: TOKENS.bot.token, BREAKFIX_LEARNER: 'patient' };
  const waited = await labctl(cwd, env, 'claim', EMPTY_SCENARIO, '--timeout', '1');
  assert.equal(waited.code, 4, 'timeout');
  assert.match(waited.stderr, /waiting for a lab: number 1 in the queue, 0 booting/);
  assert.match(waited.stderr, /labctl: no lab within 1 s/);
  const noWait = await labctl(cwd, env, 'claim', EMPTY_SCENARIO, '--no-wait');
  assert.match(noWait.stderr, /pool_exhausted/);
  assert.equal(noWait.code, 3, 'unavailable');
  // Without any API to find, it says how to get one
  const lost = await labctl(cwd, { BREAKFIX_API_URL: '' }, 'pools');
  assert.match(lost.stderr, /no breakfix API found\n {2}-> start one with `npm run sandbox`/);
  assert.equal(lost.code, 3);
});

test('on a terminal, claim counts its wait on one status line; --json and pipes get no status line', {
  timeout: 120_000,
}, async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'labctl-'));
  const env = { BREAKFIX_API_URL: apiUrl, BREAKFIX_TOKEN: TOKENS.bot.token, BREAKFIX_LEARNER: 'watching' };

  // On a terminal: the status line is redrawn in place, no line per answer of the API
  const shown = await onTerminal(cwd, env, ['claim', EMPTY_SCENARIO, '--timeout', '2']);
  assert.equal(shown.code, 4, shown.output);
  assert.ok(shown.output.includes(CLEAR_LINE), `a status line:\n${JSON.stringify(shown.output)}`);
  const frames = shown.output.split(CLEAR_LINE).filter((frame) => frame !== '');
  assert.match(frames[0] ?? '', /^\S waiting for a lab: number \d+ in the queue, 0 booting \(\d s\)$/);
  assert.doesNotMatch(shown.output, /^waiting for a lab/m, 'no plain line per answer');
  assert.match(shown.output, /labctl: no lab within 2 s/);

  // With --json on the same terminal: no status line, and stdout stays JSON-only elsewhere
  const json = await onTerminal(cwd, env, ['claim', EMPTY_SCENARIO, '--timeout', '1', '--json']);
  assert.equal(json.code, 4);
  assert.ok(!json.output.includes(CLEAR_LINE), JSON.stringify(json.output));

  // Piped (not a terminal): plain lines on stderr, nothing on stdout, no carriage returns
  const piped = await labctl(cwd, env, 'claim', EMPTY_SCENARIO, '--timeout', '1', '--json');
  assert.equal(piped.stdout, '');
  assert.match(piped.stderr, /^waiting for a lab: number \d+ in the queue/);
  assert.ok(!piped.stderr.includes('\r'));
});
