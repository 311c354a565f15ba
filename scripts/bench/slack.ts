import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createClient } from '@breakfix/client';
import { freePort } from '@breakfix/sandbox';
import { createSlackBot } from '../../apps/slack-bot/src/create-bot.js';
import { sendToBot, slashCommand, startSlackApi } from '../../apps/slack-bot/test/slack-api.js';
import type { Figure } from '../bench.js';
import { percentile, round } from './stats.js';

const COMMANDS = 200;
const AT_ONCE = 20;

/**
 * Slash-command ack latency: signed `/lab help` requests against the running Bolt receiver (the
 * ack comes before any API call, so the orchestrator is not involved), 200 commands from 200
 * users, 20 in flight at a time. Slack gives up after 3 s.
 */
export async function* benchSlack(): AsyncGenerator<Figure> {
  const slack = await startSlackApi();
  const secret = randomBytes(16).toString('hex');
  const bot = createSlackBot({
    api: createClient({ baseUrl: 'http://127.0.0.1:9', token: 'unused' }),
    signingSecret: secret,
    botToken: 'xoxb-bench',
    slackApiUrl: slack.apiUrl,
  });
  const port = await freePort();
  await bot.start(port);
  const url = `http://127.0.0.1:${port}/slack/events`;
  try {
    const samples: number[] = [];
    for (let batch = 0; batch < COMMANDS / AT_ONCE; batch++) {
      await Promise.all(
        Array.from({ length: AT_ONCE }, async (_, i) => {
          const body = slashCommand({ text: 'help', user: `U${batch}x${i}`, responseUrl: slack.responseUrl() });
          const started = performance.now();
          const response = await sendToBot(url, secret, body);
          await response.text();
          if (response.status !== 200) throw new Error(`ack ${response.status}`);
          samples.push(performance.now() - started);
        }),
      );
    }
    yield {
      name: `slack.ack.p50 (${COMMANDS} signed /lab commands, ${AT_ONCE} at once)`,
      value: round(percentile(samples, 50), 1),
      unit: 'ms',
    };
    yield {
      name: `slack.ack.p99 (${COMMANDS} signed /lab commands, ${AT_ONCE} at once)`,
      value: round(percentile(samples, 99), 1),
      unit: 'ms',
    };
  } finally {
    await bot.stop();
    await slack.close();
  }
}
