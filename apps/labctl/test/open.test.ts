import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { closeFixtures, SCENARIO, startPlatform, TOKENS } from '../../orchestrator/test/fixture.js';

const LABCTL = fileURLToPath(new URL('../bin/labctl.mjs', import.meta.url));
const closers: (() => Promise<void>)[] = [];
after(() => closeFixtures(closers));

let apiUrl: string;
let labId: string;

before(async () => {
  const platform = await startPlatform({ ready: 1 });
  closers.push(() => platform.queues.close());
  const server = serve({ fetch: platform.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  closers.unshift(() => new Promise<void>((resolve) => server.close(() => resolve())));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const claimed = await fetch(`${apiUrl}/v1/labs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKENS.admin.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ learner: 'ada', scenario: SCENARIO }),
  });
  assert.equal(claimed.status, 201);
  labId = ((await claimed.json()) as { lab: { id: string } }).lab.id;
});

function labctl(...args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const env = { ...process.env, BREAKFIX_API_URL: apiUrl, BREAKFIX_TOKEN: TOKENS.admin.token, BREAKFIX_LEARNER: '' };
    execFile(process.execPath, [LABCTL, ...args], { cwd: tmpdir(), env }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test("labctl open prints a one-time link to the learner's lab in a browser", { timeout: 240_000 }, async () => {
  // When ada asks for her lab's browser link, then stdout is the link alone and it opens once
  const opened = await labctl('open', '--learner', 'ada');
  assert.equal(opened.code, 0, opened.stderr);
  assert.match(opened.stdout, new RegExp(`^${apiUrl}/labs/${labId}/terminal\\?link=[A-Za-z0-9_-]+\\n$`));
  assert.match(opened.stderr, /works once, until \d{4}-/);
  assert.equal((await fetch(opened.stdout.trim())).status, 200);
  assert.equal((await fetch(opened.stdout.trim())).status, 410);

  // And --json names the lab, the link and its expiry; each call is a fresh link
  const json = await labctl('open', labId, '--json');
  assert.equal(json.code, 0, json.stderr);
  const link = JSON.parse(json.stdout) as { lab: string; url: string; expiresAt: string };
  assert.equal(link.lab, labId);
  assert.notEqual(link.url, opened.stdout.trim());
  assert.ok(Date.parse(link.expiresAt) > Date.now());

  // And a learner without a lab is told so, with a failing exit code
  const none = await labctl('open', '--learner', 'nobody-here');
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /holds no lab/);
});
