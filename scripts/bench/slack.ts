import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createClient } from '@breakfix/client';
import { freePort } from '@breakfix/sandbox';
import { createSlackBot } from '../../apps/slack-bot/src/create-bot.js';
import { sendToBot, slashCommand, startSlackApi } from '../../apps/slack-bot/test/slack-api.js';
import type { BenchSettings } from '../bench.js';
import { type Figure, latency } from './stats.js';

const COMMANDS = 200;
const AT_ONCE = 20;

/**
 * Slash-command ack latency: signed `/lab help` requests against the running Bolt receiver (the
 * ack comes before any API call, so the orchestrator is not involved), 200 commands from 200
 * users, 20 in flight at a time, after one unmeasured batch. Slack gives up after 3 s; an answer
 * other than 200 is a failure, still a sample.
 */
export async function* benchSlack(_settings: BenchSettings): AsyncGenerator<Figure> {
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
    let failures = 0;
    // One batch first, not measured (the receiver's first requests compile its code paths).
    for (let batch = -1; batch < COMMANDS / AT_ONCE; batch++) {
      await Promise.all(
        Array.from({ length: AT_ONCE }, async (_, i) => {
          const body = slashCommand({
            text: 'help',
            user: batch < 0 ? `UWARM${i}` : `U${batch}x${i}`,
            responseUrl: slack.responseUrl(),
          });
          const started = performance.now();
          const ok = await sendToBot(url, secret, body).then(
            async (response) => {
              await response.text();
              return response.status === 200;
            },
            () => false,
          );
          if (batch < 0) return;
          samples.push(performance.now() - started);
          if (!ok) failures++;
        }),
      );
    }
    yield latency(`slack.ack (${COMMANDS} signed /lab commands, ${AT_ONCE} at once)`, samples, { failures });
  } finally {
    await bot.stop();
    await slack.close();
  }
}
