import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@breakfix/core';

export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
  /** What the stand-in answered. */
  result?: Record<string, unknown>;
  /** For `response_url` calls: the URL path, which names the command answered. */
  path?: string;
  /** When the call arrived (ms since the epoch). */
  at?: number;
}

// Slack's Block Kit limits (https://api.slack.com/reference/block-kit/blocks,
// https://api.slack.com/reference/block-kit/block-elements#button): what the stand-in refuses.
const BLOCK_TYPES = new Set([
  'actions',
  'context',
  'divider',
  'file',
  'header',
  'image',
  'input',
  'markdown',
  'rich_text',
  'section',
  'video',
]);
const TEXT_TYPES = new Set(['plain_text', 'mrkdwn']);

/**
 * Why Slack would answer `invalid_blocks` to these blocks, one line per mistake (empty: none):
 * an array of at most `max` objects of known types, section text up to 3000 characters, header
 * text 150, buttons with plain_text up to 75, action_id up to 255, value up to 2000, url up to 3000.
 */
export function blockErrors(blocks: unknown, max: number): string[] {
  if (blocks === undefined || blocks === '') return [];
  if (!Array.isArray(blocks)) return ['blocks must be an array'];
  const errors: string[] = [];
  if (blocks.length > max) errors.push(`more than ${max} blocks (${blocks.length})`);
  const text = (at: string, value: unknown, limit: number, types = TEXT_TYPES): void => {
    const object = value as { type?: unknown; text?: unknown } | undefined;
    if (typeof object !== 'object' || object === null) {
      errors.push(`${at} must be a text object`);
      return;
    }
    if (!types.has(String(object.type))) errors.push(`${at}.type must be one of ${[...types].join(', ')}`);
    if (typeof object.text !== 'string' || object.text.length === 0) {
      errors.push(`${at}.text must not be empty`);
      return;
    }
    if (object.text.length > limit) errors.push(`${at}.text is longer than ${limit} characters`);
  };
  const element = (at: string, value: unknown) => {
    const e = value as Record<string, unknown>;
    if (e?.type !== 'button') return;
    text(`${at}.text`, e.text, 75, new Set(['plain_text']));
    for (const [field, limit] of [
      ['action_id', 255],
      ['value', 2000],
      ['url', 3000],
    ] as const) {
      if (e[field] !== undefined && String(e[field]).length > limit)
        errors.push(`${at}.${field} is longer than ${limit} characters`);
    }
  };
  for (const [i, value] of blocks.entries()) {
    const at = `blocks[${i}]`;
    const block = value as Record<string, unknown>;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      errors.push(`${at} must be an object`);
      continue;
    }
    if (!BLOCK_TYPES.has(String(block.type))) {
      errors.push(`${at}.type ${JSON.stringify(block.type)} is unknown`);
      continue;
    }
    if (block.block_id !== undefined && String(block.block_id).length > 255)
      errors.push(`${at}.block_id is longer than 255 characters`);
    if (block.type === 'section') {
      if (block.text === undefined && block.fields === undefined) errors.push(`${at} needs text or fields`);
      if (block.text !== undefined) text(`${at}.text`, block.text, 3000);
      if (Array.isArray(block.fields)) for (const [j, f] of block.fields.entries()) text(`${at}.fields[${j}]`, f, 2000);
      if (block.accessory !== undefined) element(`${at}.accessory`, block.accessory);
    }
    if (block.type === 'header') text(`${at}.text`, block.text, 150, new Set(['plain_text']));
    if (block.type === 'actions' || block.type === 'context') {
      const elements = block.elements;
      if (!Array.isArray(elements) || elements.length === 0) {
        errors.push(`${at}.elements must not be empty`);
        continue;
      }
      const limit = block.type === 'actions' ? 25 : 10;
      if (elements.length > limit) errors.push(`${at} has more than ${limit} elements`);
      elements.forEach((e, j) => {
        if (block.type === 'context') {
          if ((e as { type?: unknown })?.type !== 'image') text(`${at}.elements[${j}]`, e, 3000);
        } else element(`${at}.elements[${j}]`, e);
      });
    }
  }
  return errors;
}

export interface SlackApiOptions {
  userGroups?: Record<string, string[]>;
  /** Methods recorded and never answered, as a Slack that accepts connections and then stalls. */
  hang?: string[];
  /** The token every method but apps.connections.open needs; others get `invalid_auth`. Default `xoxb-test`. */
  botToken?: string;
  /** The token apps.connections.open needs. Default `xapp-test`. */
  appToken?: string;
  /** What apps.connections.open hands out: the Socket Mode server's ws:// URL. */
  socketModeUrl?: () => string;
  /** Answer the first `times` calls of `method` with 429 `ratelimited` and `Retry-After: retryAfterSeconds`. */
  rateLimit?: { method: string; times: number; retryAfterSeconds: number };
}

/**
 * A local stand-in for Slack's Web API (https://api.slack.com/web): POST /api/<method> with a
 * form or JSON body, answered the way Slack answers the methods the bot uses, plus the
 * `response_url` endpoint of slash commands. Every call is recorded. Like Slack it refuses a
 * wrong token (`invalid_auth`), can rate-limit a method (429 with Retry-After) and refuses Block
 * Kit that Slack would refuse (`invalid_blocks`, see blockErrors).
 */
export async function startSlackApi(options: SlackApiOptions = {}) {
  const calls: SlackCall[] = [];
  let ts = 1_700_000_000;
  let limited = 0;
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://slack.test');
      const args = parseBody(body, request.headers['content-type'] ?? '');
      const reply = (payload: Record<string, unknown>) => {
        const call = calls.at(-1);
        if (call !== undefined) call.result = payload;
        response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(payload));
      };
      if (url.pathname.startsWith('/respond/')) {
        calls.push({ method: 'response_url', args, path: url.pathname });
        const errors = blockErrors(args.blocks, 50);
        reply(errors.length === 0 ? { ok: true } : { ok: false, error: 'invalid_blocks', errors });
        return;
      }
      const method = url.pathname.replace(/^\/api\//, '');
      calls.push({ method, args, at: Date.now() });
      if (options.hang?.includes(method)) return;
      const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? String(args.token ?? '');
      const wanted =
        method === 'apps.connections.open' ? (options.appToken ?? 'xapp-test') : (options.botToken ?? 'xoxb-test');
      if (token !== wanted) {
        reply({ ok: false, error: token === '' ? 'not_authed' : 'invalid_auth' });
        return;
      }
      if (options.rateLimit?.method === method && limited < options.rateLimit.times) {
        limited += 1;
        const call = calls.at(-1);
        const payload = { ok: false, error: 'ratelimited' };
        if (call !== undefined) call.result = payload;
        response
          .writeHead(429, {
            'Content-Type': 'application/json',
            'Retry-After': String(options.rateLimit.retryAfterSeconds),
          })
          .end(JSON.stringify(payload));
        return;
      }
      const blocks = method === 'views.publish' ? (args.view as { blocks?: unknown } | undefined)?.blocks : args.blocks;
      const errors = blockErrors(blocks, method === 'views.publish' ? 100 : 50);
      if (errors.length > 0) {
        reply({ ok: false, error: 'invalid_blocks', errors });
        return;
      }
      switch (method) {
        case 'apps.connections.open':
          if (options.socketModeUrl === undefined) reply({ ok: false, error: 'not_allowed_token_type' });
          else reply({ ok: true, url: options.socketModeUrl() });
          return;
        case 'auth.test':
          reply({
            ok: true,
            url: 'https://breakfix.slack.test/',
            team: 'breakfix',
            user: 'breakfix',
            team_id: 'T1',
            user_id: 'UBOT',
            bot_id: 'BBOT',
          });
          return;
        case 'conversations.open':
          reply({ ok: true, channel: { id: `D${String(args.users ?? '').replace(/^U/, '')}` } });
          return;
        case 'chat.postMessage':
          ts += 1;
          reply({ ok: true, channel: args.channel, ts: `${ts}.000100`, message: { text: args.text } });
          return;
        case 'chat.update':
          reply({ ok: true, channel: args.channel, ts: args.ts, text: args.text });
          return;
        case 'views.publish':
          reply({ ok: true, view: { id: 'V1', type: 'home' } });
          return;
        case 'usergroups.users.list':
          reply({ ok: true, users: options.userGroups?.[String(args.usergroup)] ?? [] });
          return;
        default:
          reply({ ok: false, error: 'unknown_method' });
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    /** For the WebClient's `slackApiUrl`. */
    apiUrl: `${url}/api/`,
    /** A fresh response_url for one slash command. */
    responseUrl: () => `${url}/respond/${Math.random().toString(36).slice(2)}`,
    calls,
    /** Text of every message the bot sent (posts, updates, responses), with their blocks flattened. */
    texts(filter: (call: SlackCall) => boolean = () => true): string[] {
      return calls.filter(filter).map((c) => `${String(c.args.text ?? '')}\n${JSON.stringify(c.args.blocks ?? '')}`);
    },
    async waitForCall(what: string, predicate: (call: SlackCall) => boolean, timeoutMs = 60_000): Promise<SlackCall> {
      return await waitFor(async () => calls.find(predicate), { what, timeoutMs, intervalMs: 20 });
    },
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function parseBody(body: string, contentType: string): Record<string, unknown> {
  if (body === '') return {};
  if (contentType.includes('application/json')) return JSON.parse(body) as Record<string, unknown>;
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    args[key] = /^[[{]/.test(value) ? safeJson(value) : value;
  }
  return args;
}

function safeJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** Signs a request body as Slack does (v0, HMAC-SHA256 over `v0:<timestamp>:<body>`). */
export function slackSignature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/** POSTs a signed request to the bot, as Slack would. */
export async function sendToBot(
  url: string,
  secret: string,
  body: string,
  options: { contentType?: string; timestamp?: number; retryNum?: number; signature?: string; timeoutMs?: number } = {},
): Promise<Response> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  return await fetch(url, {
    method: 'POST',
    // A bot that never answers fails the request after this, instead of holding the test up.
    ...(options.timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(options.timeoutMs) }),
    headers: {
      'Content-Type': options.contentType ?? 'application/x-www-form-urlencoded',
      'X-Slack-Request-Timestamp': String(timestamp),
      'X-Slack-Signature': options.signature ?? slackSignature(secret, timestamp, body),
      ...(options.retryNum === undefined
        ? {}
        : { 'X-Slack-Retry-Num': String(options.retryNum), 'X-Slack-Retry-Reason': 'http_timeout' }),
    },
    body,
  });
}

/** The form body of a `/lab` slash command. */
export function slashCommand(fields: {
  text: string;
  user: string;
  team?: string;
  channel?: string;
  trigger?: string;
  responseUrl: string;
}): string {
  return new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: fields.team ?? 'T1',
    team_domain: 'breakfix',
    channel_id: fields.channel ?? 'C1',
    channel_name: 'practice',
    user_id: fields.user,
    user_name: fields.user.toLowerCase(),
    command: '/lab',
    text: fields.text,
    api_app_id: 'A1',
    response_url: fields.responseUrl,
    trigger_id: fields.trigger ?? `${Date.now()}.${Math.random().toString(36).slice(2)}`,
  }).toString();
}

/** The form body of a button click (block_actions) in the App Home or a message. */
export function buttonClick(fields: {
  user: string;
  actionId: string;
  value: string;
  team?: string;
  trigger?: string;
}): string {
  const payload = {
    type: 'block_actions',
    team: { id: fields.team ?? 'T1', domain: 'breakfix' },
    user: { id: fields.user, username: fields.user.toLowerCase(), team_id: fields.team ?? 'T1' },
    api_app_id: 'A1',
    token: 'deprecated-verification-token',
    trigger_id: fields.trigger ?? `${Date.now()}.${Math.random().toString(36).slice(2)}`,
    container: { type: 'view', view_id: 'V1' },
    view: { id: 'V1', type: 'home' },
    actions: [
      {
        type: 'button',
        action_id: fields.actionId,
        block_id: 'b1',
        value: fields.value,
        text: { type: 'plain_text', text: 'x' },
        action_ts: `${Date.now() / 1000}`,
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** The JSON body of an Events API `app_home_opened` event. */
export function appHomeOpened(fields: { user: string; team?: string; eventId?: string }): string {
  return JSON.stringify({
    token: 'deprecated-verification-token',
    team_id: fields.team ?? 'T1',
    api_app_id: 'A1',
    type: 'event_callback',
    event_id: fields.eventId ?? `Ev${Math.random().toString(36).slice(2)}`,
    event_time: Math.floor(Date.now() / 1000),
    event: {
      type: 'app_home_opened',
      user: fields.user,
      channel: `D${fields.user}`,
      tab: 'home',
      event_ts: `${Date.now() / 1000}`,
    },
  });
}
