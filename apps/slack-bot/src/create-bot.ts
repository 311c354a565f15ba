import { ApiError, type BreakfixClient, type Lab } from '@breakfix/client';
import {
  App,
  type AuthorizeResult,
  type BlockAction,
  type ButtonAction,
  HTTPReceiver,
  LogLevel,
  type RespondFn,
  SocketModeReceiver,
} from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import { type LabCommand, parseCommand } from './command.js';
import type { Message } from './messages.js';
import * as messages from './messages.js';
import { createRateLimiter, createSeen } from './rate-limit.js';
import { createMemoryWaitQueue, type QueuedLearner, type WaitQueue } from './wait-queue.js';

export interface SlackBotOptions {
  /** The orchestrator, with a `bot` token (acts for learners). */
  api: BreakfixClient;
  /** With an admin or instructor token, for `/lab admin ...`; without it those commands are off. */
  adminApi?: BreakfixClient;
  /** Slack signs every request with it; Bolt refuses bad signatures and timestamps older than 5 minutes. */
  signingSecret: string;
  /** The bot token (`xoxb-...`). */
  botToken: string;
  /** `http` (default): Slack POSTs to `/slack/events`. `socket`: Socket Mode with `appToken` (no public URL). */
  mode?: 'http' | 'socket';
  appToken?: string;
  /** Where HTTP is served (events in HTTP mode, /healthz and /readyz in both). Default 3000; start() may override it in HTTP mode. */
  port?: number;
  /** Slack's Web API base; tests point it at a local server. Default https://slack.com/api/. */
  slackApiUrl?: string;
  /** Only these workspaces (team ids) may use the bot; empty: any. */
  allowedTeams?: readonly string[];
  /** Only these channels (and DMs with the bot) may use `/lab`; empty: any. */
  allowedChannels?: readonly string[];
  /** Slack user ids allowed `/lab admin`, and/or a user group (`S...`) whose members are. */
  adminUsers?: readonly string[];
  adminUserGroup?: string;
  /** Commands per user: `burst` at once, then one per `refillMs`. Default 5 / 3 s. */
  rateLimit?: { burst: number; refillMs: number };
  /**
   * Where learners wait when a pool is empty. The entry point passes the Redis one, shared by all
   * replicas and kept across restarts; default: this process's memory (one bot, no Redis).
   */
  queue?: WaitQueue;
  /** How often a queued learner's claim is retried. Default 10 s; given up after `queueGiveUpMs` (15 min). */
  queuePollMs?: number;
  queueGiveUpMs?: number;
  /** Warn this long before a lab expires. Default 10 minutes. */
  expiryWarningMs?: number;
  /**
   * The bot token is verified with `auth.test` after start, off the path of every command: each
   * attempt may take `timeoutMs` (default 10 s), and a failed one is logged, reported by /readyz
   * and tried again after `retryMs` (default 30 s).
   */
  tokenCheck?: { timeoutMs?: number; retryMs?: number };
  /**
   * Every other Web API call (DMs, message updates, App Home): each attempt may take `timeoutMs`
   * (default 10 s) and a failed one is retried `retries` times (default 2, after 1 s and 2 s), so
   * a Slack that hangs holds a learner's flow for at most about half a minute, never the Web API
   * client's stock policy of ten retries over thirty minutes.
   */
  webApi?: { timeoutMs?: number; retries?: number };
  now?: () => number;
  log?: (message: string) => void;
}

interface Tracked {
  labId: string;
  user: string;
  warned: boolean;
  /** The idle warning (its warnedAt) the learner was told about, until it is withdrawn. */
  idleWarnedAt?: string;
}

/** The learner id breakfix knows a Slack user by: unique across workspaces. */
export function learnerId(team: string, user: string): string {
  return `slack.${team}.${user}`;
}

/**
 * The Slack app: `/lab` commands, App Home with the catalog and the learner's lab card, buttons,
 * the claim flow with its progress message, the queue when pools are empty, and expiry warnings.
 * It talks to breakfix only through the typed client.
 */
export function createSlackBot(options: SlackBotOptions) {
  const log = options.log ?? (() => {});
  const now = options.now ?? Date.now;
  const limiter = createRateLimiter({ ...(options.rateLimit ?? { burst: 5, refillMs: 3_000 }), now });
  const seen = createSeen({ ttlMs: 10 * 60_000, now });
  const tracked = new Map<string, Tracked>(); // by learner id
  const queue = options.queue ?? createMemoryWaitQueue();
  const clientOptions = options.slackApiUrl === undefined ? {} : { slackApiUrl: options.slackApiUrl };
  const client = new WebClient(options.botToken, {
    logLevel: LogLevel.WARN,
    ...clientOptions,
    timeout: options.webApi?.timeoutMs ?? 10_000,
    retryConfig: { retries: options.webApi?.retries ?? 2, factor: 2, minTimeout: 1_000, maxTimeout: 2_000 },
  });
  // One attempt per check, with a deadline: the check retries on its own schedule.
  const verifier = new WebClient(options.botToken, {
    logLevel: LogLevel.ERROR,
    ...clientOptions,
    retryConfig: { retries: 0 },
    timeout: options.tokenCheck?.timeoutMs ?? 10_000,
  });
  /** Why the bot is not ready yet; undefined once Slack accepted the token. */
  let notReady: string | undefined = 'the bot token has not been verified with Slack yet (auth.test)';
  /** The bot's own ids, once auth.test told them (Bolt's ignoreSelf uses them). */
  let identity: Pick<AuthorizeResult, 'botId' | 'botUserId'> = {};

  type ProbeResponse = {
    writeHead: (status: number, headers: Record<string, string>) => { end: (body: string) => void };
  };
  const healthz = {
    path: '/healthz',
    method: ['GET'],
    handler: (_req: unknown, res: ProbeResponse) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    },
  };
  const readyz = {
    path: '/readyz',
    method: ['GET'],
    handler: (_req: unknown, res: ProbeResponse) => {
      const body = notReady === undefined ? { status: 'ready' } : { status: 'not ready', reason: notReady };
      res
        .writeHead(notReady === undefined ? 200 : 503, { 'Content-Type': 'application/json' })
        .end(JSON.stringify(body));
    },
  };
  const customRoutes = [healthz, readyz];
  // Socket Mode dials out to Slack; its receiver still serves /healthz and /readyz for the probes.
  const receiver =
    options.mode === 'socket'
      ? new SocketModeReceiver({
          appToken: options.appToken ?? '',
          customRoutes,
          installerOptions: { port: options.port ?? 3000, clientOptions },
        })
      : new HTTPReceiver({ signingSecret: options.signingSecret, endpoints: '/slack/events', customRoutes });
  // Not `token`: with it Bolt makes every incoming request wait for its auth.test call, so a Web
  // API that does not answer would keep commands from being acknowledged within Slack's 3 s.
  const app = new App({
    authorize: async () => ({ botToken: options.botToken, ...identity }),
    logLevel: LogLevel.WARN,
    clientOptions,
    receiver,
  });

  let checking: Promise<void> | undefined;
  /** Verifies the bot token (one attempt at a time); a failure is logged and reported by /readyz, never thrown. */
  function verifyToken(): Promise<void> {
    checking ??= checkToken().finally(() => {
      checking = undefined;
    });
    return checking;
  }

  async function checkToken(): Promise<void> {
    try {
      const result = await verifier.auth.test();
      identity = {
        ...(result.bot_id === undefined ? {} : { botId: result.bot_id }),
        ...(result.user_id === undefined ? {} : { botUserId: result.user_id }),
      };
      notReady = undefined;
      log(
        `bot token verified: ${result.user ?? result.user_id ?? 'bot'} in ${result.team ?? result.team_id ?? 'workspace'}`,
      );
    } catch (error) {
      notReady = `auth.test failed: ${reasonOf(error)}`;
      log(`${notReady}; commands are still acknowledged, and the check runs again`);
    }
  }

  async function dm(user: string, message: Message): Promise<{ channel: string; ts: string }> {
    const opened = await client.conversations.open({ users: user });
    const channel = opened.channel?.id ?? user;
    const posted = await client.chat.postMessage({ channel, ...message });
    return { channel, ts: posted.ts ?? '' };
  }

  async function update(target: { channel: string; ts: string }, message: Message): Promise<void> {
    await client.chat.update({ channel: target.channel, ts: target.ts, ...message });
  }

  function allowed(team: string, channel: string | undefined): boolean {
    if ((options.allowedTeams ?? []).length > 0 && !options.allowedTeams?.includes(team)) return false;
    if ((options.allowedChannels ?? []).length > 0 && channel !== undefined && !channel.startsWith('D')) {
      return options.allowedChannels?.includes(channel) ?? false;
    }
    return true;
  }

  async function isAdmin(user: string): Promise<boolean> {
    if (options.adminUsers?.includes(user)) return true;
    if (options.adminUserGroup === undefined) return false;
    const members = await client.usergroups.users.list({ usergroup: options.adminUserGroup });
    return members.users?.includes(user) ?? false;
  }

  /** The learner's current lab, or undefined when they hold none. */
  async function currentLab(learner: string): Promise<Lab | undefined> {
    try {
      return await options.api.learners.currentLab(learner);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'not_found') return undefined;
      throw error;
    }
  }

  async function requireLab(learner: string): Promise<Lab> {
    const lab = await currentLab(learner);
    if (lab === undefined) throw new NoLabError();
    return lab;
  }

  /** Claims, then updates the DM in place: claiming -> ready (or queued, or why not). */
  async function start(team: string, user: string, scenario: string, title: string, key: string): Promise<void> {
    const learner = learnerId(team, user);
    const message = await dm(user, messages.claiming(title));
    const entry = { learner, scenario, user, team, ...message, since: now(), attempt: 0, key };
    await attemptClaim(entry, title);
  }

  /**
   * One claim for the learner. The first attempt queues them when the pool is empty; later ones
   * (from pollQueue, under the learner's lease) leave the entry in place until a claim succeeds.
   */
  async function attemptClaim(entry: QueuedLearner, title: string): Promise<void> {
    const { learner } = entry;
    try {
      const result = await options.api.labs.claim(
        { learner, scenario: entry.scenario },
        { idempotencyKey: entry.attempt === 0 ? entry.key : `${entry.key}-${entry.attempt}` },
      );
      if (entry.attempt > 0) await queue.remove(learner, entry.key);
      tracked.set(learner, { labId: result.lab.id, user: entry.user, warned: false });
      await update(entry, messages.ready(result, title));
      if (entry.attempt > 0)
        await dm(entry.user, messages.plain(`:bell: Your lab for *${title}* is ready — see above.`));
      log(`lab ${result.lab.id} for ${learner} (${entry.scenario})`);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'pool_exhausted') {
        if (entry.attempt === 0) await queue.put(entry);
        await update(entry, messages.queued(title, error.queuePosition, error.provisioning));
        return;
      }
      if (entry.attempt > 0) await queue.remove(learner, entry.key);
      await update(entry, messages.describeError(error));
    }
  }

  /**
   * Retries every queued learner's claim (oldest first) and gives up after queueGiveUpMs. Each
   * entry is handled under its lease and read again once the lease is held, so of two replicas
   * (or a round that overlaps the previous one) only one claims, and never for an entry that
   * was claimed, stopped or replaced meanwhile.
   */
  async function pollQueue(): Promise<void> {
    for (const listed of await queue.list()) {
      await queue.withLease(listed.learner, async () => {
        const entry = await queue.get(listed.learner);
        if (entry === undefined || entry.key !== listed.key) return;
        if (now() - entry.since > (options.queueGiveUpMs ?? 15 * 60_000)) {
          if ((await queue.remove(entry.learner, entry.key)) === undefined) return;
          await update(entry, messages.plain(':hourglass: No lab became free in time. Try `/lab start` again later.'));
          return;
        }
        const next = await queue.advance(entry.learner, entry.key);
        if (next === undefined) return;
        let title = next.scenario;
        try {
          title = (await options.api.scenarios.get(next.scenario)).title;
        } catch {}
        await attemptClaim(next, title);
      });
    }
  }

  /** Takes the learner out of the queue and says so in their queued DM; true when they were queued. */
  async function leaveQueue(learner: string, why: string): Promise<boolean> {
    const left = await queue.remove(learner);
    if (left === undefined) return false;
    await update(left, messages.plain(why)).catch((error: unknown) =>
      log(`could not update the queued DM of ${learner}: ${String(error)}`),
    );
    return true;
  }

  /**
   * Warns before expiry, and says when a lab has ended. With an admin client it also picks up the
   * Slack learners' labs it did not hand out itself (another replica's, or from before a restart):
   * a learner id names its Slack user.
   */
  async function watchLabs(): Promise<void> {
    if (options.adminApi !== undefined) {
      const { labs } = await options.adminApi.admin.labs({ state: 'claimed' });
      for (const lab of labs) {
        const user = /^slack\.[^.]+\.(.+)$/.exec(lab.learner ?? '')?.[1];
        if (user === undefined || lab.learner === null || tracked.has(lab.learner)) continue;
        tracked.set(lab.learner, { labId: lab.id, user, warned: false });
      }
    }
    for (const [learner, entry] of tracked) {
      let lab: Lab | undefined;
      try {
        lab = await options.api.labs.get(entry.labId);
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 'not_found')) continue; // try again next round
      }
      if (lab === undefined || lab.state !== 'claimed' || lab.learner !== learner) {
        tracked.delete(learner);
        await dm(entry.user, messages.ended(entry.labId, lab?.ended?.message));
        continue;
      }
      if (lab.idle !== null && entry.idleWarnedAt !== lab.idle.warnedAt) {
        entry.idleWarnedAt = lab.idle.warnedAt;
        const minutes = Math.max(1, Math.round((Date.parse(lab.idle.releaseAt) - now()) / 60_000));
        await dm(entry.user, messages.idleWarning(lab, minutes));
      } else if (lab.idle === null && entry.idleWarnedAt !== undefined) {
        entry.idleWarnedAt = undefined;
        await dm(entry.user, messages.idleReset(lab));
      }
      if (!entry.warned && lab.secondsLeft !== null && lab.secondsLeft * 1000 <= (options.expiryWarningMs ?? 600_000)) {
        entry.warned = true;
        await dm(entry.user, messages.expiringSoon(lab));
      }
    }
  }

  /** Runs one learner command; returns what to tell them. */
  async function run(command: LabCommand, team: string, user: string, key: string): Promise<Message | undefined> {
    const learner = learnerId(team, user);
    switch (command.kind) {
      case 'help':
        return messages.HELP;
      case 'invalid':
        return messages.plain(`:warning: ${command.message}`);
      case 'list':
        return messages.catalog((await options.api.scenarios.list()).scenarios);
      case 'start': {
        const held = await currentLab(learner);
        if (held !== undefined) return messages.describeError(conflict(held.id));
        const { title } = await options.api.scenarios.get(command.scenario); // unknown ids stop here
        // A new start while queued replaces the old wait: one entry per learner.
        await leaveQueue(learner, 'You left this queue: a newer `/lab start` replaced it.');
        void start(team, user, command.scenario, title, key).catch((error: unknown) =>
          log(`start failed: ${String(error)}`),
        );
        return messages.plain(`:rocket: Getting you a lab for *${title}* — I'll DM you the SSH command.`);
      }
      case 'status': {
        const lab = await currentLab(learner);
        if (lab !== undefined) return messages.labCard(lab);
        const queued = await queue.get(learner);
        return messages.plain(
          queued === undefined
            ? 'You have no lab. `/lab list` shows the scenarios.'
            : `You are queued for \`${queued.scenario}\`.`,
        );
      }
      case 'open': {
        const lab = await requireLab(learner);
        return messages.terminalLink(lab.id, await options.api.labs.terminalLink(lab.id), now());
      }
      case 'check':
        return messages.checked(await options.api.labs.check((await requireLab(learner)).id));
      case 'hint':
        return messages.hint(await options.api.labs.hint((await requireLab(learner)).id));
      case 'extend': {
        const lab = await options.api.labs.extend((await requireLab(learner)).id);
        const entry = tracked.get(learner);
        if (entry !== undefined) entry.warned = false;
        return messages.plain(`:stopwatch: Extended: ${messages.timeLeft(lab.secondsLeft)}.`);
      }
      case 'stop': {
        if (await leaveQueue(learner, 'You left the queue (`/lab stop`).'))
          return messages.plain('You left the queue.');
        const lab = await requireLab(learner);
        tracked.delete(learner);
        await options.api.labs.release(lab.id);
        return messages.plain(`:wave: Lab \`${lab.id}\` stopped. Thanks for practising!`);
      }
      case 'key': {
        const registered = await options.api.learners.registerKey(learner, command.publicKey);
        return messages.plain(`:key: Registered \`${registered.fingerprint}\`: your next labs use this key.`);
      }
      case 'admin-labs':
      case 'admin-release': {
        if (options.adminApi === undefined || !(await isAdmin(user)))
          return messages.plain(':lock: Admin commands are for breakfix operators.');
        if (command.kind === 'admin-release') {
          await options.adminApi.admin.forceRelease(command.labId);
          return messages.plain(`Released \`${command.labId}\`.`);
        }
        const { labs: list } = await options.adminApi.admin.labs({ state: 'claimed' });
        return messages.plain(
          list.length === 0
            ? 'No claimed labs.'
            : list
                .map((l) => `• \`${l.id}\` ${l.learner} · ${l.scenario} · ${messages.timeLeft(l.secondsLeft)}`)
                .join('\n'),
        );
      }
    }
  }

  /** run(), with every failure turned into a short message. */
  async function answer(command: LabCommand, team: string, user: string, key: string): Promise<Message | undefined> {
    try {
      return await run(command, team, user, key);
    } catch (error) {
      if (error instanceof NoLabError)
        return messages.plain('You have no lab. Start one with `/lab start <scenario>`.');
      if (!(error instanceof ApiError)) log(`command ${command.kind} failed: ${String(error)}`);
      return messages.describeError(error);
    }
  }

  app.command('/lab', async ({ command, ack, respond }) => {
    const parsed = parseCommand(command.text);
    if (!allowed(command.team_id, command.channel_id)) {
      await ack({ response_type: 'ephemeral', text: ':lock: breakfix is not enabled here.' });
      return;
    }
    if (!seen.first(`command:${command.trigger_id}`)) {
      await ack(); // a retry of a command we already took
      return;
    }
    if (!limiter.take(command.user_id)) {
      await ack({ response_type: 'ephemeral', text: ':turtle: Easy there — one command every few seconds, please.' });
      return;
    }
    // Slack wants an answer within 3 s: acknowledge at once, answer through response_url.
    await ack();
    const reply = await answer(parsed, command.team_id, command.user_id, `slack-${command.trigger_id}`);
    if (reply !== undefined) await say(respond, reply);
  });

  for (const [action, kind] of [
    [messages.ACTIONS.check, 'check'],
    [messages.ACTIONS.open, 'open'],
    [messages.ACTIONS.hint, 'hint'],
    [messages.ACTIONS.extend, 'extend'],
    [messages.ACTIONS.stop, 'stop'],
  ] as const) {
    app.action<BlockAction<ButtonAction>>(action, async ({ ack, body }) => {
      await ack();
      const team = body.team?.id ?? body.user.team_id ?? '';
      if (!allowed(team, undefined) || !seen.first(`action:${body.trigger_id}`)) return;
      if (!limiter.take(body.user.id)) {
        await dm(body.user.id, messages.plain(':turtle: Easy there — one click every few seconds, please.'));
        return;
      }
      const reply = await answer({ kind }, team, body.user.id, `slack-${body.trigger_id}`);
      if (reply !== undefined) await dm(body.user.id, reply);
      await publishHome(team, body.user.id).catch(() => undefined);
    });
  }

  // Slack opens a link button's URL itself and still tells the app; there is nothing to do.
  app.action(messages.ACTIONS.openLink, async ({ ack }) => {
    await ack();
  });

  app.action<BlockAction<ButtonAction>>(messages.ACTIONS.start, async ({ ack, body, action }) => {
    await ack();
    const team = body.team?.id ?? body.user.team_id ?? '';
    if (!allowed(team, undefined) || !seen.first(`action:${body.trigger_id}`)) return;
    if (!limiter.take(body.user.id)) return;
    const reply = await answer(
      { kind: 'start', scenario: action.value ?? '' },
      team,
      body.user.id,
      `slack-${body.trigger_id}`,
    );
    if (reply !== undefined && !reply.text.startsWith(':rocket:')) await dm(body.user.id, reply);
  });

  async function publishHome(team: string, user: string): Promise<void> {
    const [{ scenarios }, lab] = await Promise.all([options.api.scenarios.list(), currentLab(learnerId(team, user))]);
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: 'breakfix' } },
      ...(lab === undefined
        ? [{ type: 'section', text: { type: 'mrkdwn', text: 'You have no lab right now. Pick a scenario:' } }]
        : (messages.labCard(lab).blocks ?? [])),
      { type: 'divider' },
      ...scenarios.map((s) => ({
        type: 'section',
        text: { type: 'mrkdwn', text: `*${s.title}*\n${s.difficulty} · ${s.timeLimitMinutes} min · \`${s.id}\`` },
        accessory: {
          type: 'button',
          text: { type: 'plain_text', text: 'Start' },
          action_id: messages.ACTIONS.start,
          value: s.id,
        },
      })),
    ];
    await client.views.publish({ user_id: user, view: { type: 'home', blocks: blocks as never } });
  }

  app.event('app_home_opened', async ({ event, body }) => {
    if (event.tab !== 'home') return;
    const team = (body as { team_id?: string }).team_id ?? '';
    if (!allowed(team, undefined)) return;
    if (!seen.first(`event:${(body as { event_id?: string }).event_id ?? `${event.user}-${event.event_ts}`}`)) return;
    await publishHome(team, event.user);
  });

  app.error(async (error) => {
    log(`slack app error: ${error.message}`);
  });

  let timers: NodeJS.Timeout[] = [];
  const inFlight = new Set<Promise<void>>();
  return {
    app,
    /** Starts listening (HTTP on `port`, or the Socket Mode connection) and the background rounds. */
    async start(port = options.port ?? 3000): Promise<void> {
      await app.start(port);
      // A round still running when the next is due is not started twice.
      const round = (fn: () => Promise<void>, ms: number) => {
        let running = false;
        return setInterval(() => {
          if (running) return;
          running = true;
          const done = fn()
            .catch((e: unknown) => log(`background round failed: ${String(e)}`))
            .finally(() => {
              running = false;
              inFlight.delete(done);
            });
          inFlight.add(done);
        }, ms);
      };
      const retryToken = async () => {
        if (notReady !== undefined) await verifyToken();
      };
      timers = [
        round(pollQueue, options.queuePollMs ?? 10_000),
        round(watchLabs, 30_000),
        round(retryToken, options.tokenCheck?.retryMs ?? 30_000),
      ];
      void verifyToken();
    },
    async stop(): Promise<void> {
      for (const timer of timers) clearInterval(timer);
      // Bolt's stop() only starts closing the Socket Mode connection; wait for Slack's close frame,
      // so a shutdown neither cuts an ack off nor leaves the socket's 30 s close timer running.
      if (receiver instanceof SocketModeReceiver) await receiver.client.disconnect();
      await app.stop();
      // A queue round finishes what it started (a claim under a lease), then the process may go.
      await Promise.all(inFlight);
    },
    /** One round of queue retries (the timer's work, callable from tests). */
    pollQueue,
    /** One round of expiry warnings and ended-lab notices. */
    watchLabs,
  };
}

class NoLabError extends Error {}

/**
 * An error's message with those of its causes: the Web API client's request errors say only
 * "fetch failed", and the reason (ECONNREFUSED, a DNS failure) sits in `original`, then `cause`.
 */
function reasonOf(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  while (current instanceof Error && parts.length < 5) {
    if (!parts.at(-1)?.endsWith(current.message)) parts.push(current.message);
    current = (current as { original?: unknown }).original ?? current.cause;
  }
  return parts.length === 0 ? String(error) : parts.join(': ');
}

function conflict(labId: string): ApiError {
  return new ApiError({
    type: 'about:blank',
    title: 'Conflict',
    status: 409,
    detail: `you already have lab ${labId}`,
    code: 'conflict',
    labId,
  } as ConstructorParameters<typeof ApiError>[0]);
}

async function say(respond: RespondFn, message: Message): Promise<void> {
  await respond({ response_type: 'ephemeral', replace_original: false, ...message });
}
