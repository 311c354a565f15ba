import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { createClient } from '@breakfix/client';
import { waitFor } from '@breakfix/core';
import { freePort } from '@breakfix/sandbox';
import { createSlackBot } from '../src/create-bot.js';
import { sendToBot, slashCommand, startSlackApi } from './slack-api.js';

const SECRET = randomBytes(16).toString('hex');
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers) await close();
});

/** GETs a probe of the bot, with a deadline. */
async function probe(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  return { status: response.status, body: await response.text() };
}

test('Slack’s Web API unreachable: /lab help is still answered within 3 s, and /readyz says why the bot is not ready', {
  timeout: 30_000,
}, async () => {
  // Given a bot whose Web API base is a port nothing listens on (the response_url endpoint is up)
  const closedPort = await freePort();
  let botPort = await freePort();
  while (botPort === closedPort) botPort = await freePort();
  const responses = await startSlackApi();
  closers.push(() => responses.close());
  const logged: string[] = [];
  const bot = createSlackBot({
    api: createClient({ baseUrl: 'http://127.0.0.1:9', token: 'unused' }),
    signingSecret: SECRET,
    botToken: 'xoxb-test',
    slackApiUrl: `http://127.0.0.1:${closedPort}/api/`,
    tokenCheck: { timeoutMs: 2_000, retryMs: 60_000 },
    log: (message) => logged.push(message),
  });
  await bot.start(botPort);
  closers.unshift(() => bot.stop());
  const base = `http://127.0.0.1:${botPort}`;

  // When a learner sends a correctly signed /lab help
  const responseUrl = responses.responseUrl();
  const started = performance.now();
  const ack = await sendToBot(
    `${base}/slack/events`,
    SECRET,
    slashCommand({ text: 'help', user: 'UHELP', responseUrl }),
    {
      timeoutMs: 5_000,
    },
  );
  const ackMs = performance.now() - started;

  // Then Slack gets its 200 within 3 s, and the help arrives through the command's response_url
  assert.equal(ack.status, 200);
  assert.ok(ackMs < 3_000, `acknowledged in ${Math.round(ackMs)} ms`);
  const path = new URL(responseUrl).pathname;
  const answer = await responses.waitForCall('the answer to /lab help', (c) => c.path === path, 10_000);
  assert.match(JSON.stringify(answer.args.blocks), /\/lab start <scenario>/);

  // And /readyz reports not ready, with the failed token check as the reason (also in the log)
  const readyz = await waitFor(
    async () => {
      const result = await probe(`${base}/readyz`);
      return /auth\.test failed/.test(result.body) ? result : undefined;
    },
    { what: '/readyz to report the failed token check', timeoutMs: 10_000, intervalMs: 50 },
  );
  assert.equal(readyz.status, 503);
  const body = JSON.parse(readyz.body) as { status: string; reason: string };
  assert.equal(body.status, 'not ready');
  assert.match(body.reason, /^auth\.test failed: .*ECONNREFUSED/);
  assert.ok(
    logged.some((line) => line.startsWith('auth.test failed')),
    `logged: ${logged.join(' | ')}`,
  );
  // while the process itself is healthy: liveness must not restart it for Slack's sake
  assert.deepEqual(await probe(`${base}/healthz`), { status: 200, body: 'ok' });
});

test('a bot whose token Slack accepts reports ready', { timeout: 30_000 }, async () => {
  const slack = await startSlackApi();
  closers.push(() => slack.close());
  const bot = createSlackBot({
    api: createClient({ baseUrl: 'http://127.0.0.1:9', token: 'unused' }),
    signingSecret: SECRET,
    botToken: 'xoxb-test',
    slackApiUrl: slack.apiUrl,
  });
  const port = await freePort();
  await bot.start(port);
  closers.unshift(() => bot.stop());
  const readyz = await waitFor(
    async () => {
      const result = await probe(`http://127.0.0.1:${port}/readyz`);
      return result.status === 200 ? result : undefined;
    },
    { what: '/readyz to report ready', timeoutMs: 10_000, intervalMs: 50 },
  );
  assert.deepEqual(JSON.parse(readyz.body), { status: 'ready' });
  assert.ok(slack.calls.some((c) => c.method === 'auth.test' && c.result?.ok === true));
});
