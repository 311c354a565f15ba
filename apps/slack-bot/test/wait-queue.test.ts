import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createClient } from '@breakfix/client';
import { parseLabSpec } from '@breakfix/manifests';
import { freePort } from '@breakfix/sandbox';
import { serve } from '@hono/node-server';
import { Redis } from 'ioredis';
import { closeFixtures, EMPTY_SCENARIO, startPlatform, TOKENS } from '../../orchestrator/test/fixture.js';
import { createSlackBot, learnerId } from '../src/create-bot.js';
import { createRedisWaitQueue } from '../src/wait-queue.js';
import { type SlackCall, sendToBot, slashCommand, startSlackApi } from './slack-api.js';

const SECRET = randomBytes(16).toString('hex');
const closers: (() => Promise<void>)[] = [];
after(() => closeFixtures(closers));

let platform: Awaited<ReturnType<typeof startPlatform>>;
let slack: Awaited<ReturnType<typeof startSlackApi>>;
let apiUrl: string;

before(async () => {
  platform = await startPlatform({ ready: 1 });
  const server = serve({ fetch: platform.app.fetch, port: 0, hostname: '127.0.0.1' });
  await once(server, 'listening');
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  slack = await startSlackApi();
  closers.push(() => slack.close());
});

/** The wait queue as a bot process sees it: its own Redis connection, the platform's prefix. */
function redisQueue() {
  const redis = new Redis(platform.info.redisUrl, { maxRetriesPerRequest: 3 });
  closers.push(async () => redis.disconnect());
  return createRedisWaitQueue({ redis, prefix: platform.prefix });
}

/** A bot process: its own queue connection, HTTP receiver on a free port, started. */
async function startBot(options: { queuePollMs?: number; now?: () => number; queueGiveUpMs?: number } = {}) {
  const bot = createSlackBot({
    api: createClient({ baseUrl: apiUrl, token: TOKENS.bot.token }),
    signingSecret: SECRET,
    botToken: 'xoxb-test',
    slackApiUrl: slack.apiUrl,
    queue: redisQueue(),
    queuePollMs: options.queuePollMs ?? 60 * 60_000,
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.queueGiveUpMs === undefined ? {} : { queueGiveUpMs: options.queueGiveUpMs }),
  });
  const port = await freePort();
  await bot.start(port);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await bot.stop();
  };
  closers.unshift(stop);
  return { bot, url: `http://127.0.0.1:${port}/slack/events`, stop };
}

async function command(url: string, user: string, text: string): Promise<void> {
  const response = await sendToBot(url, SECRET, slashCommand({ text, user, responseUrl: slack.responseUrl() }));
  assert.equal(response.status, 200, `ack of /lab ${text}`);
}

function dmsTo(user: string): SlackCall[] {
  const channel = `D${user.replace(/^U/, '')}`;
  return slack.calls.filter(
    (c) => (c.method === 'chat.postMessage' || c.method === 'chat.update') && c.args.channel === channel,
  );
}

const readyUpdates = (user: string) =>
  dmsTo(user).filter((c) => c.method === 'chat.update' && /is ready/.test(String(c.args.text)));
const bells = (user: string) => dmsTo(user).filter((c) => /:bell: Your lab/.test(String(c.args.text)));

async function queued(user: string, count = 1): Promise<void> {
  await slack.waitForCall(
    `${user} queued (${count})`,
    (c) =>
      c.method === 'chat.update' &&
      /in the queue/.test(String(c.args.text)) &&
      dmsTo(user).filter((d) => d.method === 'chat.update' && /in the queue/.test(String(d.args.text))).length >= count,
    20_000,
  );
}

/** Boots one lab into the empty one-worker pool. */
async function fillPool(): Promise<string> {
  const pool = platform.pools.find((p) => p.workers === 1)?.name ?? assert.fail('no 1-worker pool');
  const id = `e-${randomBytes(4).toString('hex')}`;
  const outcome = await platform.provisioner.provision({
    id,
    pool,
    spec: parseLabSpec({ labId: id, kubernetesVersion: '1.36', workers: 1 }),
  });
  assert.equal(outcome, 'ready');
  return id;
}

async function claimedBy(user: string) {
  return (await platform.store.list()).filter((e) => e.learner === learnerId('T1', user) && e.state === 'claimed');
}

describe('the wait queue lives in Redis', { timeout: 120_000 }, () => {
  test('a learner queued before a restart gets their lab and one ready DM from the new process', async () => {
    const user = 'UREST';
    const learner = learnerId('T1', user);
    // Given a learner queued by one bot process, who asked twice (the second start replaces the first)
    const first = await startBot();
    await command(first.url, user, `start ${EMPTY_SCENARIO}`);
    await queued(user);
    await command(first.url, user, `start ${EMPTY_SCENARIO}`);
    await queued(user, 2);
    const entries = (await redisQueue().list()).filter((e) => e.learner === learner);
    assert.equal(entries.length, 1, 'queued once');
    assert.equal(entries[0]?.scenario, EMPTY_SCENARIO);
    assert.equal(entries[0]?.channel, 'DREST');
    assert.match(entries[0]?.ts ?? '', /^\d+\.\d+$/);
    assert.ok(
      dmsTo(user).some((c) => /a newer `\/lab start` replaced it/.test(String(c.args.text))),
      'the first queued DM says it was replaced',
    );

    // When that process stops, a new one starts, and a lab of the pool becomes ready
    await first.stop();
    const second = await startBot({ queuePollMs: 100 });
    const id = await fillPool();

    // Then the new process claims it for the learner: the queued DM turns ready and pings them once
    const ready = await slack.waitForCall(
      'the queued DM turned ready',
      (c) => c.method === 'chat.update' && c.args.channel === 'DREST' && /is ready/.test(String(c.args.text)),
      30_000,
    );
    assert.equal(ready.args.ts, entries[0]?.ts, 'the message the first process posted');
    await slack.waitForCall('the ping', (c) => bells(user).includes(c), 10_000);
    assert.deepEqual(
      (await claimedBy(user)).map((e) => e.id),
      [id],
    );
    assert.equal(await redisQueue().get(learner), undefined, 'and leaves the queue');
    assert.equal(readyUpdates(user).length, 1);
    assert.equal(bells(user).length, 1);
    await second.stop(); // its rounds would otherwise take leases in the tests below
    await platform.access.release(id);
  });

  test('two replicas polling the same queue claim once for a queued learner', async () => {
    const user = 'UTWO';
    // Given two bot replicas polling every 50 ms, and a learner one of them queued
    const a = await startBot({ queuePollMs: 50 });
    const b = await startBot({ queuePollMs: 50 });
    await command(a.url, user, `start ${EMPTY_SCENARIO}`);
    await queued(user);

    // When a lab becomes ready
    const id = await fillPool();

    // Then exactly one claims it: one lab, one ready update, one ping, even with more rounds after
    await slack.waitForCall('ready', (c) => readyUpdates(user).includes(c), 30_000);
    await slack.waitForCall('the ping', (c) => bells(user).includes(c), 10_000);
    await Promise.all([a.bot.pollQueue(), b.bot.pollQueue(), a.bot.pollQueue(), b.bot.pollQueue()]);
    assert.deepEqual(
      (await claimedBy(user)).map((e) => e.id),
      [id],
    );
    assert.equal(readyUpdates(user).length, 1);
    assert.equal(bells(user).length, 1);
    await Promise.all([a.stop(), b.stop()]);
    await platform.access.release(id);
  });

  test('a restarted process still gives up on a learner queued too long, and /lab stop takes one out', async () => {
    // Given two learners queued by a process that then stops
    const first = await startBot();
    await command(first.url, 'UGIVE', `start ${EMPTY_SCENARIO}`);
    await command(first.url, 'UGONE', `start ${EMPTY_SCENARIO}`);
    await queued('UGIVE');
    await queued('UGONE');
    await first.stop();

    // When the new process runs: one learner stops, and the other's wait runs out
    const later = await startBot({ now: () => Date.now() + 20 * 60_000, queueGiveUpMs: 15 * 60_000 });
    await command(later.url, 'UGONE', 'stop');
    await slack.waitForCall('the stop noted in the queued DM', (c) =>
      dmsTo('UGONE').some((d) => d === c && /You left the queue/.test(String(c.args.text))),
    );
    assert.equal(await redisQueue().get(learnerId('T1', 'UGONE')), undefined);
    await later.bot.pollQueue();

    // Then the waiting learner is told, and nobody is left in the queue or got a lab
    assert.ok(
      dmsTo('UGIVE').some((c) => /No lab became free in time/.test(String(c.args.text))),
      JSON.stringify(dmsTo('UGIVE').map((c) => c.args.text)),
    );
    assert.equal(await redisQueue().get(learnerId('T1', 'UGIVE')), undefined);
    assert.deepEqual(await claimedBy('UGIVE'), []);
    assert.deepEqual(await claimedBy('UGONE'), []);
  });
});
