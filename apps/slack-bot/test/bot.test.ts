import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createClient } from '@breakfix/client';
import { waitFor } from '@breakfix/core';
import { parseLabSpec } from '@breakfix/manifests';
import { lastActivityKey } from '@breakfix/pool';
import { freePort } from '@breakfix/sandbox';
import { serve } from '@hono/node-server';
import { parse } from 'yaml';
import { closeFixtures, EMPTY_SCENARIO, SCENARIO, startPlatform, TOKENS } from '../../orchestrator/test/fixture.js';
import { createSlackBot, learnerId } from '../src/create-bot.js';
import { ACTIONS } from '../src/messages.js';
import { appHomeOpened, buttonClick, type SlackCall, sendToBot, slashCommand, startSlackApi } from './slack-api.js';

const SECRET = randomBytes(16).toString('hex');
const closers: (() => Promise<void>)[] = [];
after(() => closeFixtures(closers));

let platform: Awaited<ReturnType<typeof startPlatform>>;
let slack: Awaited<ReturnType<typeof startSlackApi>>;
let bot: ReturnType<typeof createSlackBot>;
let botUrl: string;
let apiUrl: string;

before(async () => {
  platform = await startPlatform({ ready: 6 });
  const server = serve({ fetch: platform.app.fetch, port: 0, hostname: '127.0.0.1' });
  await once(server, 'listening');
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  slack = await startSlackApi({ userGroups: { S_OPS: ['UOPS'] } });
  closers.push(() => slack.close());
  bot = createSlackBot({
    api: createClient({ baseUrl: apiUrl, token: TOKENS.bot.token }),
    adminApi: createClient({ baseUrl: apiUrl, token: TOKENS.admin.token }),
    signingSecret: SECRET,
    botToken: 'xoxb-test',
    slackApiUrl: slack.apiUrl,
    adminUserGroup: 'S_OPS',
    // Above what one story uses (9 commands, App Home and a button: 11): a story that runs in
    // under half a second must not be refused its last command. The limit has its own test.
    rateLimit: { burst: 20, refillMs: 500 },
    expiryWarningMs: 60 * 60_000,
  });
  const port = await freePort();
  await bot.start(port);
  closers.unshift(() => bot.stop());
  botUrl = `http://127.0.0.1:${port}/slack/events`;
});

/** Sends `/lab <text>` as `user` and returns the ephemeral answers posted to its response_url. */
async function lab(user: string, text: string, extra: { trigger?: string; retryNum?: number } = {}) {
  const responseUrl = slack.responseUrl();
  const started = performance.now();
  const response = await sendToBot(
    botUrl,
    SECRET,
    slashCommand({ text, user, responseUrl, ...(extra.trigger === undefined ? {} : { trigger: extra.trigger }) }),
    extra.retryNum === undefined ? {} : { retryNum: extra.retryNum },
  );
  const ackMs = performance.now() - started;
  assert.equal(response.status, 200, `ack of /lab ${text}`);
  return { ack: await response.text(), ackMs, responseUrl };
}

/** The ephemeral answer to one command (it arrives through that command's response_url). */
async function answerTo(user: string, text: string): Promise<string> {
  const { responseUrl } = await lab(user, text);
  const path = new URL(responseUrl).pathname;
  const call = await slack.waitForCall(`an answer to /lab ${text}`, (c) => c.path === path);
  return `${String(call.args.text)}\n${JSON.stringify(call.args.blocks ?? '')}`;
}

function dmsTo(user: string, from = 0): SlackCall[] {
  const channel = `D${user.replace(/^U/, '')}`;
  return slack.calls
    .slice(from)
    .filter((c) => (c.method === 'chat.postMessage' || c.method === 'chat.update') && c.args.channel === channel);
}

describe('the learner story in Slack', () => {
  test('help, list, start (DM with the SSH command), status, check, hint, extend, App Home, a button, stop', async () => {
    const user = 'UADA';
    const learner = learnerId('T1', user);

    assert.match(await answerTo(user, 'help'), /\/lab start <scenario>/);
    assert.match(await answerTo(user, 'list'), new RegExp(SCENARIO));

    // Start: an immediate answer, then one DM that goes from claiming to ready
    const from = slack.calls.length;
    assert.match(await answerTo(user, `start ${SCENARIO}`), /I'll DM you/);
    const ready = await slack.waitForCall(
      'the ready DM',
      (c) => c.method === 'chat.update' && /is ready/.test(String(c.args.text)),
    );
    const posts = dmsTo(user, from);
    assert.equal(posts[0]?.method, 'chat.postMessage');
    assert.match(String(posts[0]?.args.text), /Getting a lab/);
    assert.equal(ready.args.ts, posts[0]?.result?.ts, 'the claiming message itself turns into the ready one');
    const shown = JSON.stringify(ready.args.blocks);
    assert.match(shown, /OPENSSH PRIVATE KEY/, 'a generated key goes to the DM');
    assert.match(shown, /ssh-ed25519 /, 'with the known_hosts line');
    assert.match(shown, /StrictHostKeyChecking=yes/);
    assert.ok(String(ready.args.channel).startsWith('D'), 'private keys only ever go to a DM');
    const held = await platform.store.heldBy(learner);
    assert.equal(held?.scenario, SCENARIO);

    assert.match(await answerTo(user, 'status'), new RegExp(held?.id ?? 'none'));

    // Open in browser: a one-time link to the lab's terminal, answered only to the learner
    const openAnswer = await answerTo(user, 'open');
    const link = new RegExp(`${apiUrl}/labs/${held?.id}/terminal\\?link=[A-Za-z0-9_-]+`).exec(openAnswer)?.[0];
    assert.ok(link !== undefined, `a terminal link in: ${openAnswer}`);
    assert.match(openAnswer, /works once, within 5 minutes/);
    assert.equal((await fetch(link)).status, 200, 'the link opens the terminal page');
    assert.equal((await fetch(link)).status, 410, 'once');
    const openFrom = slack.calls.length;
    await sendToBot(botUrl, SECRET, buttonClick({ user, actionId: ACTIONS.open, value: held?.id ?? '' }));
    const dmLink = await slack.waitForCall(
      'the Open in browser DM',
      (c) =>
        c.method === 'chat.postMessage' &&
        slack.calls.indexOf(c) >= openFrom &&
        /in your browser/.test(String(c.args.text)),
    );
    assert.match(JSON.stringify(dmLink.args.blocks), new RegExp(`"url":"${apiUrl}/labs/${held?.id}/terminal\\?link=`));
    assert.notEqual(
      JSON.stringify(dmLink.args.blocks).match(/link=([^"]+)/)?.[1],
      new URL(link).searchParams.get('link'),
      'a fresh link per click',
    );
    assert.match(await answerTo(user, 'check'), /Not fixed yet/);
    assert.match(await answerTo(user, 'hint'), /Hint 1\/\d/);
    assert.match(await answerTo(user, 'extend'), /Extended: \d+ minutes left/);

    // The App Home shows the lab card and the catalog with Start buttons
    const homeFrom = slack.calls.length;
    const opened = await sendToBot(botUrl, SECRET, appHomeOpened({ user }), { contentType: 'application/json' });
    assert.equal(opened.status, 200);
    const home = await slack.waitForCall(
      'views.publish',
      (c) => c.method === 'views.publish' && slack.calls.indexOf(c) >= homeFrom,
    );
    const homeBlocks = JSON.stringify(home.args.view);
    assert.match(homeBlocks, new RegExp(held?.id ?? 'none'));
    assert.match(homeBlocks, new RegExp(`"action_id":"${ACTIONS.start}","value":"${SCENARIO}"`));
    assert.match(homeBlocks, new RegExp(`"text":"Open in browser"[^}]*\\},"action_id":"${ACTIONS.open}"`));

    // A Check button click answers in the DM
    const clickFrom = slack.calls.length;
    const click = await sendToBot(
      botUrl,
      SECRET,
      buttonClick({ user, actionId: ACTIONS.check, value: held?.id ?? '' }),
    );
    assert.equal(click.status, 200);
    await slack.waitForCall(
      'the check result in the DM',
      (c) =>
        c.method === 'chat.postMessage' && slack.calls.indexOf(c) >= clickFrom && /Not yet/.test(String(c.args.text)),
    );

    // Stop gives the lab back
    assert.match(await answerTo(user, 'stop'), /stopped/);
    assert.equal(await platform.store.heldBy(learner), undefined);
  });

  test('the bot warns before expiry and says when a lab has ended', async () => {
    const user = 'UEVE';
    await lab(user, `start ${SCENARIO}`);
    await slack.waitForCall(
      'ready',
      (c) => c.method === 'chat.update' && c.args.channel === 'DEVE' && /is ready/.test(String(c.args.text)),
    );
    const held = await platform.store.heldBy(learnerId('T1', user));
    assert.ok(held);
    // Within the warning window (an hour, in this test): one warning, not two
    await bot.watchLabs();
    await bot.watchLabs();
    assert.equal(dmsTo(user).filter((c) => /expires soon/.test(String(c.args.text))).length, 1);
    // A bot that did not hand the lab out (another replica, or after a restart) finds it too
    const fresh = createSlackBot({
      api: createClient({ baseUrl: apiUrl, token: TOKENS.bot.token }),
      adminApi: createClient({ baseUrl: apiUrl, token: TOKENS.admin.token }),
      signingSecret: SECRET,
      botToken: 'xoxb-test',
      slackApiUrl: slack.apiUrl,
      expiryWarningMs: 60 * 60_000,
    });
    await fresh.watchLabs();
    assert.equal(dmsTo(user).filter((c) => /expires soon/.test(String(c.args.text))).length, 2);
    // An operator releases it: the learner is told
    await platform.access.release(held.id);
    await bot.watchLabs();
    assert.ok(dmsTo(user).some((c) => /has ended/.test(String(c.args.text))));
  });

  test('the bot DMs an idle warning, says when the learner is back, and why an idle lab ended', async () => {
    const user = 'UIDA';
    await lab(user, `start ${SCENARIO}`);
    await slack.waitForCall(
      'ready',
      (c) => c.method === 'chat.update' && c.args.channel === 'DIDA' && /is ready/.test(String(c.args.text)),
    );
    const held = await platform.store.heldBy(learnerId('T1', user));
    assert.ok(held);
    const idleDms = () => dmsTo(user).filter((c) => /looks idle/.test(String(c.args.text)));
    // The idle reaper warns: one DM, not one per round
    const warnedAt = Date.now();
    await platform.store.warnIdle(held.id, { warnedAt, releaseAt: warnedAt + 5 * 60_000 });
    await bot.watchLabs();
    await bot.watchLabs();
    assert.equal(idleDms().length, 1);
    assert.match(String(idleDms()[0]?.args.text), /released in 5 minutes/);
    // The learner comes back (the reaper withdraws the warning): the bot says it carries on
    await platform.store.clearIdleWarning(held.id);
    await bot.watchLabs();
    assert.equal(dmsTo(user).filter((c) => /Still there: carrying on/.test(String(c.args.text))).length, 1);
    // Warned again and released as idle: the ended DM says why
    const later = Date.now() + 20 * 60_000;
    await platform.store.warnIdle(held.id, { warnedAt: later - 5 * 60_000, releaseAt: later });
    await bot.watchLabs();
    assert.equal(idleDms().length, 2);
    const outcome = await platform.store.releaseIdle(held.id, {
      activityKey: lastActivityKey(held.id, platform.prefix.replace(/:$/, '')),
      idleMs: 10 * 60_000,
      now: later,
    });
    assert.equal(outcome.outcome, 'idle');
    await bot.watchLabs();
    assert.ok(
      dmsTo(user).some((c) => /has ended: released after a while without activity/.test(String(c.args.text))),
      JSON.stringify(dmsTo(user).map((c) => c.args.text)),
    );
  });
});

describe('safety', () => {
  test('a bad signature or a stale timestamp is refused and does nothing', async () => {
    const from = slack.calls.length;
    const body = slashCommand({ text: `start ${SCENARIO}`, user: 'UMAL', responseUrl: slack.responseUrl() });
    const forged = await sendToBot(botUrl, SECRET, body, { signature: 'v0=deadbeef' });
    assert.equal(forged.status, 401);
    const stale = await sendToBot(botUrl, SECRET, body, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 });
    assert.equal(stale.status, 401);
    const otherSecret = await sendToBot(botUrl, 'not-the-secret', body);
    assert.equal(otherSecret.status, 401);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(slack.calls.slice(from), [], 'no Slack call was made');
    assert.equal(await platform.store.heldBy(learnerId('T1', 'UMAL')), undefined);
  });

  test('a retried slash command produces one lab and one DM', async () => {
    const user = 'URETRY';
    const trigger = `${Date.now()}.retry`;
    const from = slack.calls.length;
    await lab(user, `start ${SCENARIO}`, { trigger });
    await lab(user, `start ${SCENARIO}`, { trigger, retryNum: 1 });
    await slack.waitForCall(
      'ready',
      (c) => c.method === 'chat.update' && c.args.channel === 'DRETRY' && /is ready/.test(String(c.args.text)),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(dmsTo(user, from).filter((c) => c.method === 'chat.postMessage').length, 1);
    const claimed = (await platform.store.list()).filter(
      (e) => e.learner === learnerId('T1', user) && e.state === 'claimed',
    );
    assert.equal(claimed.length, 1);
    await platform.access.release(claimed[0]?.id ?? '');
  });

  test('a learner spamming /lab start gets one lab and polite refusals', async () => {
    const user = 'USPAM';
    const from = slack.calls.length;
    const acks = await Promise.all(Array.from({ length: 30 }, () => lab(user, `start ${SCENARIO}`)));
    await slack.waitForCall(
      'ready',
      (c) => c.method === 'chat.update' && c.args.channel === 'DSPAM' && /is ready/.test(String(c.args.text)),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const claimed = (await platform.store.list()).filter(
      (e) => e.learner === learnerId('T1', user) && e.state === 'claimed',
    );
    assert.equal(claimed.length, 1, 'one lab');
    const said = [...acks.map((a) => a.ack), ...slack.texts((c) => slack.calls.indexOf(c) >= from)].join('\n');
    assert.match(said, /Easy there|already have lab/, 'the others were refused politely');
    assert.doesNotMatch(said, /Error:|at \w+ \(/, 'never a stack trace');
    await platform.access.release(claimed[0]?.id ?? '');
  });

  test('an empty pool queues the learner with their position', async () => {
    const user = 'UQUEUE';
    await lab(user, `start ${EMPTY_SCENARIO}`);
    const queued = await slack.waitForCall('queued', (c) => c.method === 'chat.update' && c.args.channel === 'DQUEUE');
    assert.match(String(queued.args.text), /you are number \*1\* in the queue/);
    assert.match(await answerTo(user, 'status'), /queued/);
    assert.match(await answerTo(user, 'stop'), /left the queue/);
  });

  test('a queued learner is told when their lab is ready', async () => {
    const user = 'UWAIT';
    await lab(user, `start ${EMPTY_SCENARIO}`);
    await slack.waitForCall('queued', (c) => c.method === 'chat.update' && c.args.channel === 'DWAIT');
    // When a lab of that pool becomes ready, the next queue round claims it for the learner
    const pool = platform.pools.find((p) => p.workers === 1)?.name ?? assert.fail('no 1-worker pool');
    const id = `e-${randomBytes(4).toString('hex')}`;
    assert.equal(
      await platform.provisioner.provision({
        id,
        pool,
        spec: parseLabSpec({ labId: id, kubernetesVersion: '1.36', workers: 1 }),
      }),
      'ready',
    );
    await bot.pollQueue();
    const ready = await slack.waitForCall(
      'the queued message turned ready',
      (c) => c.method === 'chat.update' && c.args.channel === 'DWAIT' && /is ready/.test(String(c.args.text)),
    );
    assert.match(JSON.stringify(ready.args.blocks), /known_hosts/);
    assert.ok(
      dmsTo(user).some((c) => /:bell: Your lab/.test(String(c.args.text))),
      'and pinged, since the update alone is silent',
    );
    assert.equal((await platform.store.heldBy(learnerId('T1', user)))?.id, id);
  });

  test('outside the allowed workspaces and channels the bot declines, and DMs with it always work', async () => {
    const guarded = createSlackBot({
      api: createClient({ baseUrl: 'http://127.0.0.1:9', token: 'unused' }),
      signingSecret: SECRET,
      botToken: 'xoxb-test',
      slackApiUrl: slack.apiUrl,
      allowedTeams: ['T1'],
      allowedChannels: ['CLABS'],
    });
    const port = await freePort();
    await guarded.start(port);
    try {
      const url = `http://127.0.0.1:${port}/slack/events`;
      const ask = async (team: string, channel: string) => {
        const body = slashCommand({ text: 'help', user: 'UGUEST', team, channel, responseUrl: slack.responseUrl() });
        const response = await sendToBot(url, SECRET, body);
        assert.equal(response.status, 200);
        return await response.text();
      };
      assert.match(await ask('T2', 'CLABS'), /not enabled here/, 'another workspace');
      assert.match(await ask('T1', 'CRANDOM'), /not enabled here/, 'another channel');
      assert.doesNotMatch(await ask('T1', 'CLABS'), /not enabled here/);
      assert.doesNotMatch(await ask('T1', 'DUGUEST'), /not enabled here/, 'a DM with the bot');
    } finally {
      await guarded.stop();
    }
  });

  test('bad input and admin commands get short, useful answers', async () => {
    assert.match(await answerTo('UBOB', 'start'), /say which scenario/);
    assert.match(await answerTo('UBOB', 'frobnicate'), /there is no `\/lab frobnicate`/);
    assert.match(await answerTo('UBOB', 'start no-such-scenario'), /:mag:|not_found|no scenario/i);
    assert.match(await answerTo('UBOB', 'key ssh-ed25519 !!!'), /publicKey/);
    assert.match(await answerTo('UBOB', 'check'), /You have no lab/);
    assert.match(await answerTo('UBOB', 'admin labs'), /for breakfix operators/);
    assert.match(await answerTo('UOPS', 'admin labs'), /No claimed labs|`e-/);
  });
});

test('a Slack that stalls on DMs: the learner gets no lab they cannot be told about, and the bot gives up in bounded time', async () => {
  // Given a bot whose Web API accepts chat.postMessage and never answers
  const stalled = await startSlackApi({ hang: ['chat.postMessage'] });
  closers.push(() => stalled.close());
  const logged: string[] = [];
  const slow = createSlackBot({
    api: createClient({ baseUrl: apiUrl, token: TOKENS.bot.token }),
    signingSecret: SECRET,
    botToken: 'xoxb-test',
    slackApiUrl: stalled.apiUrl,
    webApi: { timeoutMs: 300, retries: 1 },
    log: (line) => logged.push(line),
  });
  const port = await freePort();
  await slow.start(port);
  closers.unshift(() => slow.stop());

  // When a learner starts a lab
  const responseUrl = stalled.responseUrl();
  const started = performance.now();
  const ack = await sendToBot(
    `http://127.0.0.1:${port}/slack/events`,
    SECRET,
    slashCommand({ text: `start ${SCENARIO}`, user: 'USTALL', responseUrl }),
  );
  assert.equal(ack.status, 200);

  // Then the DM is attempted twice (one retry), the start gives up and says why in the log
  const failure = await waitFor(async () => logged.find((line) => line.startsWith('start failed')), {
    what: 'the bot to give up on the stalled DM',
    timeoutMs: 15_000,
    intervalMs: 20,
  });
  const seconds = (performance.now() - started) / 1000;
  assert.match(failure, /timeout|ECONNRESET|aborted/i);
  assert.ok(seconds < 10, `gave up after ${seconds.toFixed(1)} s`);
  assert.equal(stalled.calls.filter((c) => c.method === 'chat.postMessage').length, 2);
  // and no lab was claimed for a learner who was never told about it
  assert.equal(await platform.store.heldBy(learnerId('T1', 'USTALL')), undefined);
});

test('the Slack app manifest grants every scope the bot used, and no more', async () => {
  const manifest = parse(
    readFileSync(fileURLToPath(new URL('../../../infra/slack/manifest.yaml', import.meta.url)), 'utf8'),
  ) as {
    features: { slash_commands: { command: string; url: string }[] };
    oauth_config: { scopes: { bot: string[] } };
    settings: { event_subscriptions: { bot_events: string[] }; interactivity: { is_enabled: boolean } };
  };
  // https://api.slack.com/methods: the scope each method the bot called needs
  const scopeOf: Record<string, string | undefined> = {
    'auth.test': undefined,
    'chat.postMessage': 'chat:write',
    'chat.update': 'chat:write',
    'conversations.open': 'im:write',
    'usergroups.users.list': 'usergroups:read',
    'views.publish': undefined,
    response_url: undefined,
  };
  const used = new Set(slack.calls.map((c) => c.method));
  for (const method of used)
    assert.ok(method in scopeOf, `the bot called ${method}; add its scope to this table and the manifest`);
  const needed = new Set(['commands', ...[...used].flatMap((m) => (scopeOf[m] === undefined ? [] : [scopeOf[m]]))]);
  assert.deepEqual(new Set(manifest.oauth_config.scopes.bot), needed);
  assert.deepEqual(
    manifest.features.slash_commands.map((c) => c.command),
    ['/lab'],
  );
  assert.ok(manifest.features.slash_commands.every((c) => c.url.endsWith('/slack/events')));
  assert.deepEqual(manifest.settings.event_subscriptions.bot_events, ['app_home_opened']);
  assert.equal(manifest.settings.interactivity.is_enabled, true);
});
