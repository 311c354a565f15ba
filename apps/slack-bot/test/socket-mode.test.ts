import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createClient } from '@breakfix/client';
import { freePort } from '@breakfix/sandbox';
import { serve } from '@hono/node-server';
import { closeFixtures, SCENARIO, startPlatform, TOKENS } from '../../orchestrator/test/fixture.js';
import { createSlackBot, learnerId } from '../src/create-bot.js';
import { startSlackApi } from './slack-api.js';
import { startSocketModeServer } from './socket-mode-server.js';

const closers: (() => Promise<void>)[] = [];
after(() => closeFixtures(closers));

let platform: Awaited<ReturnType<typeof startPlatform>>;
let slack: Awaited<ReturnType<typeof startSlackApi>>;
let socket: Awaited<ReturnType<typeof startSocketModeServer>>;

before(async () => {
  platform = await startPlatform({ ready: 1 });
  const server = serve({ fetch: platform.app.fetch, port: 0, hostname: '127.0.0.1' });
  await once(server, 'listening');
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  socket = await startSocketModeServer();
  closers.push(() => socket.close());
  slack = await startSlackApi({ socketModeUrl: socket.url });
  closers.push(() => slack.close());
  const bot = createSlackBot({
    api: createClient({ baseUrl: apiUrl, token: TOKENS.bot.token }),
    signingSecret: 'unused-in-socket-mode',
    botToken: 'xoxb-test',
    mode: 'socket',
    appToken: 'xapp-test',
    port: await freePort(),
    slackApiUrl: slack.apiUrl,
  });
  await bot.start();
  closers.unshift(() => bot.stop());
});

/** A `/lab` slash command as Socket Mode delivers it: the same fields as the HTTP form, as JSON. */
function slashCommand(user: string, text: string) {
  const responseUrl = slack.responseUrl();
  return {
    responseUrl,
    payload: {
      token: 'deprecated-verification-token',
      team_id: 'T1',
      team_domain: 'breakfix',
      channel_id: 'C1',
      channel_name: 'practice',
      user_id: user,
      user_name: user.toLowerCase(),
      command: '/lab',
      text,
      api_app_id: 'A1',
      is_enterprise_install: 'false',
      response_url: responseUrl,
      trigger_id: `${Date.now()}.${Math.random().toString(36).slice(2)}`,
    },
  };
}

describe('Socket Mode', { timeout: 60_000 }, () => {
  test('the bot opens its connection with the app token and acks /lab help within 3 s; the help comes through response_url', async () => {
    const open = slack.calls.find((c) => c.method === 'apps.connections.open');
    assert.equal(open?.result?.ok, true, 'apps.connections.open with the xapp- token');
    assert.equal(socket.connections, 1);

    const { responseUrl, payload } = slashCommand('USOCK', 'help');
    const id = socket.send('slash_commands', payload);
    const ack = await socket.waitForAck(id, 3_000);
    assert.ok(ack.afterMs < 3_000, `acked in ${Math.round(ack.afterMs)} ms`);
    const path = new URL(responseUrl).pathname;
    const answer = await slack.waitForCall('the help', (c) => c.path === path, 10_000);
    assert.match(JSON.stringify(answer.args.blocks), /\/lab start <scenario>/);
  });

  test('/lab start over Socket Mode: acked, then the DM goes from claiming to ready through the Web API', async () => {
    const user = 'USOCKSTART';
    const from = slack.calls.length;
    const { responseUrl, payload } = slashCommand(user, `start ${SCENARIO}`);
    const id = socket.send('slash_commands', payload);
    const ack = await socket.waitForAck(id, 3_000);
    assert.ok(ack.afterMs < 3_000, `acked in ${Math.round(ack.afterMs)} ms`);
    const path = new URL(responseUrl).pathname;
    const answer = await slack.waitForCall('the immediate answer', (c) => c.path === path, 10_000);
    assert.match(String(answer.args.text), /I'll DM you/);
    const ready = await slack.waitForCall(
      'the ready DM',
      (c) =>
        slack.calls.indexOf(c) >= from &&
        c.method === 'chat.update' &&
        c.args.channel === 'DSOCKSTART' &&
        /is ready/.test(String(c.args.text)),
      30_000,
    );
    assert.match(JSON.stringify(ready.args.blocks), /OPENSSH PRIVATE KEY/);
    const held = await platform.store.heldBy(learnerId('T1', user));
    assert.equal(held?.scenario, SCENARIO);
    await platform.access.release(held?.id ?? '');
  });
});
