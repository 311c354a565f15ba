// The Slack bot's entry point: reads its configuration from the environment, wires the typed
// client and starts Bolt. Everything else lives in create-bot.ts.
//
//   BREAKFIX_API_URL            the orchestrator, e.g. http://orchestrator.breakfix-system:8080
//   BREAKFIX_TOKEN              a `bot` token (acts for learners)
//   BREAKFIX_ADMIN_TOKEN        optional admin token for `/lab admin ...`
//   BREAKFIX_REDIS_URL          redis://... (the platform's Redis): the wait queue, shared by replicas
//   SLACK_MODE                  http (default: Slack POSTs to :PORT/slack/events) | socket
//   SLACK_SIGNING_SECRET        from the app's Basic Information page
//   SLACK_BOT_TOKEN             xoxb-...
//   SLACK_APP_TOKEN             xapp-... (Socket Mode only, scope connections:write)
//   SLACK_API_URL               optional Web API base (default https://slack.com/api/)
//   SLACK_ALLOWED_TEAMS         optional comma-separated workspace ids
//   SLACK_ALLOWED_CHANNELS      optional comma-separated channel ids (DMs with the bot always work)
//   SLACK_ADMIN_USERS           optional comma-separated user ids allowed `/lab admin`
//   SLACK_ADMIN_USERGROUP       optional user group id (S...) whose members are admins
//   PORT                        HTTP port (default 3000; /slack/events, /healthz and /readyz)

import { createClient } from '@breakfix/client';
import { readEnvConfig } from '@breakfix/core';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { z } from 'zod';
import { createSlackBot } from './create-bot.js';
import { createRedisWaitQueue } from './wait-queue.js';

const list = z
  .string()
  .default('')
  .transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== ''),
  );

const env = readEnvConfig(
  z
    .object({
      BREAKFIX_API_URL: z.url(),
      BREAKFIX_TOKEN: z.string().min(16),
      BREAKFIX_ADMIN_TOKEN: z.string().min(16).optional(),
      BREAKFIX_REDIS_URL: z.url(),
      SLACK_MODE: z.enum(['http', 'socket']).default('http'),
      SLACK_SIGNING_SECRET: z.string().min(1),
      SLACK_BOT_TOKEN: z.string().startsWith('xoxb-'),
      SLACK_APP_TOKEN: z.string().startsWith('xapp-').optional(),
      SLACK_API_URL: z.url().optional(),
      SLACK_ALLOWED_TEAMS: list,
      SLACK_ALLOWED_CHANNELS: list,
      SLACK_ADMIN_USERS: list,
      SLACK_ADMIN_USERGROUP: z.string().optional(),
      PORT: z.coerce.number().int().min(1).max(65535).default(3000),
    })
    .refine((e) => e.SLACK_MODE === 'http' || e.SLACK_APP_TOKEN !== undefined, {
      message: 'Socket Mode needs SLACK_APP_TOKEN (xapp-...)',
      path: ['SLACK_APP_TOKEN'],
    }),
  { app: 'slack-bot' },
);

const logger = pino({ name: 'slack-bot' });
const redis = new Redis(env.BREAKFIX_REDIS_URL, { maxRetriesPerRequest: 3 });
const bot = createSlackBot({
  api: createClient({ baseUrl: env.BREAKFIX_API_URL, token: env.BREAKFIX_TOKEN }),
  ...(env.BREAKFIX_ADMIN_TOKEN === undefined
    ? {}
    : { adminApi: createClient({ baseUrl: env.BREAKFIX_API_URL, token: env.BREAKFIX_ADMIN_TOKEN }) }),
  queue: createRedisWaitQueue({ redis }),
  signingSecret: env.SLACK_SIGNING_SECRET,
  botToken: env.SLACK_BOT_TOKEN,
  mode: env.SLACK_MODE,
  port: env.PORT,
  ...(env.SLACK_APP_TOKEN === undefined ? {} : { appToken: env.SLACK_APP_TOKEN }),
  ...(env.SLACK_API_URL === undefined ? {} : { slackApiUrl: env.SLACK_API_URL }),
  allowedTeams: env.SLACK_ALLOWED_TEAMS,
  allowedChannels: env.SLACK_ALLOWED_CHANNELS,
  adminUsers: env.SLACK_ADMIN_USERS,
  ...(env.SLACK_ADMIN_USERGROUP === undefined ? {} : { adminUserGroup: env.SLACK_ADMIN_USERGROUP }),
  log: (message) => logger.info(message),
});
await bot.start(env.PORT);
logger.info(`slack bot up (${env.SLACK_MODE} mode${env.SLACK_MODE === 'http' ? `, :${env.PORT}/slack/events` : ''})`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    await bot.stop();
    redis.disconnect();
    process.exit(0);
  });
}
