import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ServerControl } from './protocol.js';

/**
 * Instructor watching across orchestrator replicas (ADR 27). A learner's terminal and its observers
 * may sit on different replicas, so everything between them goes through Redis:
 *
 * - `<prefix>terminal:<lab>:source` names the one terminal observers follow (`<replica>/<terminal>`),
 *   held with a TTL its replica renews; when it closes or its replica dies, another terminal of the
 *   lab (any replica) takes over.
 * - `<prefix>terminal:<lab>:watchers` is a sorted set of observers, scored by when they expire in
 *   Redis's own clock (no skew between replicas); each replica renews its own observers on every
 *   heartbeat, so a dead replica's observers drop out within the TTL and the learner's banner goes.
 * - `<prefix>terminal:<lab>:out` (pub/sub) carries what observers see: output (tag 0) and control
 *   messages (tag 1, JSON), published by the source's replica only while someone watches.
 * - `<prefix>terminal:<lab>:ctl` (pub/sub) carries nudges: the watchers changed, an observer wants
 *   the screen so far, the source is free.
 *
 * Nothing flows from observers to the lab: the relay has no path for input at all.
 */
export interface WatchRelayOptions {
  /** Commands and PUBLISH. */
  redis: Redis;
  /** A connection in subscriber mode (may be shared with other channels). */
  subscriber: Redis;
  /** Key prefix with its colon (`breakfix:`). */
  prefix: string;
  /** How often observers and the source are renewed and watchers recounted. Default 5 s; entries live 3 heartbeats. */
  heartbeatMs?: number;
  /** The learners of a lab on this replica should be told how many watch it now. */
  onWatchers: (labId: string, count: number) => void;
  log?: (message: string) => void;
}

/** A learner's terminal as the relay sees it: its size and recent output, for observers who join late. */
export interface WatchedTerminal {
  size(): { cols: number; rows: number };
  replay(): readonly Buffer[];
}

/** Where an observer's messages go (its WebSocket, bounded by the caller). */
export interface ObserverSink {
  output(chunk: Buffer): void;
  control(message: ServerControl): void;
}

interface LabState {
  /** Learner terminals on this replica, oldest first. */
  learners: Map<string, WatchedTerminal>;
  observers: Map<string, ObserverSink>;
  /** The local terminal that holds the lab's source key, if any. */
  source?: string;
  /** Watchers on every replica, as last counted (or 1 from an observer's request, until the next count). */
  watchers: number;
  /** The count the local learners were last told. */
  told: number;
}

type Nudge = 'watchers' | 'sync' | 'source-free';
const OUTPUT = 0;
const CONTROL = 1;

// Expiry scores in Redis's clock: replicas' clocks may disagree, Redis's is one.
const RENEW_WATCHERS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[1]))
return 1`;
const COUNT_WATCHERS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])`;
const RENEW_IF_MINE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const DELETE_IF_MINE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export function createWatchRelay(options: WatchRelayOptions) {
  const { redis, subscriber, prefix } = options;
  const log = options.log ?? (() => {});
  const heartbeatMs = options.heartbeatMs ?? 5_000;
  const ttlMs = 3 * heartbeatMs;
  const replica = randomBytes(6).toString('hex');
  const labs = new Map<string, LabState>();
  const subscribed = new Map<string, Promise<unknown>>();
  const key = (labId: string, part: 'source' | 'watchers' | 'out' | 'ctl') => `${prefix}terminal:${labId}:${part}`;
  const channelPattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}terminal:(.+):(out|ctl)$`);
  const failed = (what: string) => (error: unknown) => log(`terminal watch: ${what}: ${(error as Error).message}`);

  const stateOf = (labId: string): LabState => {
    let state = labs.get(labId);
    if (state === undefined) {
      state = { learners: new Map(), observers: new Map(), watchers: 0, told: 0 };
      labs.set(labId, state);
    }
    return state;
  };

  /** Subscribes to what this replica needs for a lab, and drops what it no longer needs. */
  function follow(labId: string): Promise<unknown> {
    const state = labs.get(labId);
    const wanted = new Set<string>();
    if (state !== undefined && (state.learners.size > 0 || state.observers.size > 0)) wanted.add(key(labId, 'ctl'));
    if (state !== undefined && state.observers.size > 0) wanted.add(key(labId, 'out'));
    if (state !== undefined && wanted.size === 0) labs.delete(labId);
    const steps: Promise<unknown>[] = [];
    for (const channel of [key(labId, 'ctl'), key(labId, 'out')]) {
      const has = subscribed.get(channel);
      if (wanted.has(channel) && has === undefined) {
        const done = subscriber.subscribe(channel).catch(failed(`subscribing to ${channel}`));
        subscribed.set(channel, done);
        steps.push(done);
      } else if (wanted.has(channel) && has !== undefined) steps.push(has);
      else if (!wanted.has(channel) && has !== undefined) {
        subscribed.delete(channel);
        subscriber.unsubscribe(channel).catch(failed(`unsubscribing from ${channel}`));
      }
    }
    return Promise.all(steps);
  }

  const nudge = (labId: string, what: Nudge) =>
    redis.publish(key(labId, 'ctl'), what).catch(failed(`publishing ${what} for ${labId}`));
  const publishOutput = (labId: string, chunk: Buffer) =>
    redis.publish(key(labId, 'out'), Buffer.concat([Buffer.of(OUTPUT), chunk])).catch(failed('publishing output'));
  const publishControl = (labId: string, message: ServerControl) =>
    redis
      .publish(key(labId, 'out'), Buffer.concat([Buffer.of(CONTROL), Buffer.from(JSON.stringify(message))]))
      .catch(failed('publishing control'));

  /** The screen so far, for observers who just came (or whose source changed): reset, size, recent output. */
  function publishSnapshot(labId: string, terminal: WatchedTerminal): void {
    publishControl(labId, { t: 'reset' });
    publishControl(labId, { t: 'status', text: 'watching' });
    publishControl(labId, { t: 'size', ...terminal.size() });
    for (const chunk of terminal.replay()) publishOutput(labId, chunk);
  }

  async function recount(labId: string): Promise<void> {
    const count = Number(await redis.eval(COUNT_WATCHERS, 1, key(labId, 'watchers')));
    const state = labs.get(labId);
    if (state === undefined) return;
    state.watchers = count;
    if (state.told === count) return;
    state.told = count;
    if (state.learners.size > 0) options.onWatchers(labId, count);
  }

  /** Makes the oldest local terminal the lab's source if no terminal anywhere is. */
  async function claimSource(labId: string): Promise<void> {
    const state = labs.get(labId);
    if (state === undefined || state.source !== undefined) return;
    const [id, terminal] = [...state.learners][0] ?? [];
    if (id === undefined || terminal === undefined) return;
    const won = await redis.set(key(labId, 'source'), `${replica}/${id}`, 'PX', ttlMs, 'NX');
    if (won !== 'OK' || state.source !== undefined || !state.learners.has(id)) return;
    state.source = id;
    publishSnapshot(labId, terminal);
  }

  async function renew(labId: string, state: LabState): Promise<void> {
    if (state.observers.size > 0) {
      await redis.eval(RENEW_WATCHERS, 1, key(labId, 'watchers'), ttlMs, ...state.observers.keys());
    }
    if (state.source !== undefined) {
      const kept = await redis.eval(RENEW_IF_MINE, 1, key(labId, 'source'), `${replica}/${state.source}`, ttlMs);
      if (Number(kept) === 0) state.source = undefined; // expired while this replica stalled: claim anew
    }
    if (state.learners.size > 0) {
      await claimSource(labId);
      await recount(labId);
    }
  }

  let beating = false;
  const heartbeat = setInterval(() => {
    if (beating) return; // never overlap: a slow Redis must not pile up renewals
    beating = true;
    Promise.all([...labs].map(([labId, state]) => renew(labId, state).catch(failed(`renewing ${labId}`)))).finally(
      () => {
        beating = false;
      },
    );
  }, heartbeatMs);
  heartbeat.unref();

  subscriber.on('messageBuffer', (rawChannel: Buffer, message: Buffer) => {
    const match = channelPattern.exec(rawChannel.toString());
    if (match === null) return;
    const [, labId = '', kind] = match;
    const state = labs.get(labId);
    if (state === undefined) return;
    if (kind === 'out') {
      if (message[0] === OUTPUT) {
        const chunk = message.subarray(1);
        for (const sink of state.observers.values()) sink.output(chunk);
      } else if (message[0] === CONTROL) {
        const control = JSON.parse(message.subarray(1).toString()) as ServerControl;
        for (const sink of state.observers.values()) sink.control(control);
      }
      return;
    }
    const what = message.toString() as Nudge;
    if (what === 'watchers' && state.learners.size > 0) recount(labId).catch(failed(`counting watchers of ${labId}`));
    if (what === 'sync' && state.source !== undefined) {
      const terminal = state.learners.get(state.source);
      state.watchers = Math.max(state.watchers, 1); // publish from now on; the recount settles it
      if (terminal !== undefined) publishSnapshot(labId, terminal);
    }
    if (what === 'source-free') claimSource(labId).catch(failed(`taking over ${labId}`));
  });

  return {
    /** A learner's terminal (with a shell) opened here: it may become what observers see. */
    async learnerOpened(labId: string, terminal: WatchedTerminal) {
      const id = randomBytes(6).toString('hex');
      const state = stateOf(labId);
      state.learners.set(id, terminal);
      await follow(labId);
      await claimSource(labId).catch(failed(`claiming ${labId}`));
      await recount(labId).catch(failed(`counting watchers of ${labId}`));
      options.onWatchers(labId, state.told);
      const isSource = () => labs.get(labId)?.source === id;
      return {
        /** Shell output: published while this terminal is the source and anyone watches. */
        output(chunk: Buffer): void {
          if (isSource() && (labs.get(labId)?.watchers ?? 0) > 0) publishOutput(labId, chunk);
        },
        resized(): void {
          if (isSource()) publishControl(labId, { t: 'size', ...terminal.size() });
        },
        async closed(): Promise<void> {
          const now = labs.get(labId);
          if (now === undefined) return;
          now.learners.delete(id);
          if (now.source === id) {
            now.source = undefined;
            await redis.eval(DELETE_IF_MINE, 1, key(labId, 'source'), `${replica}/${id}`).catch(failed('releasing'));
            if (now.learners.size > 0) await claimSource(labId).catch(failed(`handing ${labId} over`));
            else nudge(labId, 'source-free');
          }
          await follow(labId);
        },
      };
    },

    /** An observer on this replica: sees the lab's source terminal wherever it runs, and counts as a watcher. */
    async observe(labId: string, sink: ObserverSink) {
      const id = `${replica}/${randomBytes(6).toString('hex')}`;
      const state = stateOf(labId);
      state.observers.set(id, sink);
      await follow(labId);
      await redis.eval(RENEW_WATCHERS, 1, key(labId, 'watchers'), ttlMs, id);
      await nudge(labId, 'watchers');
      if ((await redis.exists(key(labId, 'source'))) === 0) {
        sink.control({ t: 'status', text: 'no browser terminal is open on this lab yet' });
      } else await nudge(labId, 'sync');
      return {
        async close(): Promise<void> {
          labs.get(labId)?.observers.delete(id);
          await redis.zrem(key(labId, 'watchers'), id).catch(failed('leaving'));
          await nudge(labId, 'watchers');
          await follow(labId);
        },
      };
    },

    /** Stops renewing: this replica's observers and source expire within the TTL (a clean close removes them sooner). */
    close(): void {
      clearInterval(heartbeat);
    },
  };
}

export type WatchRelay = ReturnType<typeof createWatchRelay>;
