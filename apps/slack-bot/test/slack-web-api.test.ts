import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { createClient } from '@breakfix/client';
import { waitFor } from '@breakfix/core';
import { freePort } from '@breakfix/sandbox';
import { WebClient } from '@slack/web-api';
import { createSlackBot } from '../src/create-bot.js';
import { ACTIONS, HELP } from '../src/messages.js';
import { buttonClick, sendToBot, startSlackApi } from './slack-api.js';

const SECRET = randomBytes(16).toString('hex');
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers) await close();
});

async function standIn(options: Parameters<typeof startSlackApi>[0] = {}) {
  const slack = await startSlackApi(options);
  closers.push(() => slack.close());
  return slack;
}

async function startBot(slackApiUrl: string, botToken = 'xoxb-test') {
  const bot = createSlackBot({
    api: createClient({ baseUrl: 'http://127.0.0.1:9', token: 'unused' }),
    signingSecret: SECRET,
    botToken,
    slackApiUrl,
    tokenCheck: { timeoutMs: 2_000, retryMs: 60_000 },
  });
  const port = await freePort();
  await bot.start(port);
  closers.unshift(() => bot.stop());
  return `http://127.0.0.1:${port}`;
}

describe('the Web API stand-in answers like Slack', { timeout: 30_000 }, () => {
  test('a wrong bot token: invalid_auth, and the bot reports it on /readyz', async () => {
    const slack = await standIn();
    const client = new WebClient('xoxb-not-this-one', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    await assert.rejects(
      client.chat.postMessage({ channel: 'D1', text: 'hi' }),
      (error: { data?: { error?: string } }) => {
        assert.equal(error.data?.error, 'invalid_auth');
        return true;
      },
    );
    const base = await startBot(slack.apiUrl, 'xoxb-not-this-one');
    const readyz = await waitFor(
      async () => {
        const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
        const body = await response.text();
        return /invalid_auth/.test(body) ? { status: response.status, body } : undefined;
      },
      { what: '/readyz to report invalid_auth', timeoutMs: 10_000, intervalMs: 50 },
    );
    assert.equal(readyz.status, 503);
  });

  test('ratelimited: a 429 with Retry-After, and the bot sends the DM again after it', async () => {
    // Given a Slack that rate-limits the first chat.postMessage for 1 s
    const slack = await standIn({ rateLimit: { method: 'chat.postMessage', times: 1, retryAfterSeconds: 1 } });
    const base = await startBot(slack.apiUrl);
    // When a learner clicks Check (breakfix is unreachable here, so the bot DMs why)
    const click = await sendToBot(
      `${base}/slack/events`,
      SECRET,
      buttonClick({ user: 'ULIMIT', actionId: ACTIONS.check, value: 'e-1' }),
    );
    assert.equal(click.status, 200);
    // Then the DM is refused once with 429 and posted again no sooner than Retry-After
    const posted = await slack.waitForCall(
      'the DM posted after the rate limit',
      (c) => c.method === 'chat.postMessage' && c.result?.ok === true,
      10_000,
    );
    const posts = slack.calls.filter((c) => c.method === 'chat.postMessage');
    assert.equal(posts.length, 2);
    assert.deepEqual(posts[0]?.result, { ok: false, error: 'ratelimited' });
    assert.ok(
      (posted.at ?? 0) - (posts[0]?.at ?? 0) >= 1_000,
      `retried after ${(posted.at ?? 0) - (posts[0]?.at ?? 0)} ms`,
    );
  });

  const tooLong = (n: number) => 'x'.repeat(n + 1);
  const button = (fields: Record<string, unknown>) => ({
    type: 'actions',
    elements: [{ type: 'button', text: { type: 'plain_text', text: 'Go' }, action_id: 'go', ...fields }],
  });
  for (const [name, blocks, expected] of [
    ['blocks not an array', { type: 'section' }, /blocks must be an array/],
    ['a block that is not an object', ['hello'], /blocks\[0\] must be an object/],
    ['an unknown block type', [{ type: 'sektion', text: { type: 'mrkdwn', text: 'x' } }], /"sektion" is unknown/],
    ['more than 50 blocks', Array.from({ length: 51 }, () => ({ type: 'divider' })), /more than 50 blocks/],
    [
      'section text over 3000',
      [{ type: 'section', text: { type: 'mrkdwn', text: tooLong(3000) } }],
      /longer than 3000/,
    ],
    ['a section with neither text nor fields', [{ type: 'section' }], /needs text or fields/],
    [
      'button text over 75',
      [button({ text: { type: 'plain_text', text: tooLong(75) } })],
      /text\.text is longer than 75/,
    ],
    ['button text in mrkdwn', [button({ text: { type: 'mrkdwn', text: 'Go' } })], /type must be one of plain_text/],
    ['action_id over 255', [button({ action_id: tooLong(255) })], /action_id is longer than 255/],
    ['value over 2000', [button({ value: tooLong(2000) })], /value is longer than 2000/],
    ['empty actions', [{ type: 'actions', elements: [] }], /elements must not be empty/],
  ] as const) {
    test(`invalid_blocks: ${name}`, async () => {
      const slack = await standIn();
      const client = new WebClient('xoxb-test', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
      await assert.rejects(
        client.chat.postMessage({ channel: 'D1', text: 'fallback', blocks: blocks as never }),
        (error: { data?: { error?: string; errors?: string[] } }) => {
          assert.equal(error.data?.error, 'invalid_blocks');
          assert.match((error.data?.errors ?? []).join('\n'), expected);
          return true;
        },
      );
    });
  }

  test('the blocks the bot sends pass: the help message as a DM', async () => {
    const slack = await standIn();
    const client = new WebClient('xoxb-test', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    const result = await client.chat.postMessage({ channel: 'D1', ...HELP });
    assert.equal(result.ok, true);
  });
});
