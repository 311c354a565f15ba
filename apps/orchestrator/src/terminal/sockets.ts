import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Environment, EnvironmentStore, LabAccess, LabActivity, LabEvent } from '@breakfix/pool';
import { labEventsChannel, parseLabEvent } from '@breakfix/pool';
import { openShell, type Shell } from '@breakfix/ssh';
import type { Redis } from 'ioredis';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { type ApiToken, createTokenLookup, presentedToken } from '../http/auth.js';
import { createTerminalAccess, readCookie, SESSION_COOKIE, type TerminalGrant } from './access-links.js';
import { CLOSE, parseClientFrame, type ServerControl } from './protocol.js';
import { createWatchRelay, type WatchRelay } from './watch-relay.js';

export interface TerminalSocketsOptions {
  redis: Redis;
  /** Key prefix shared with the store (`breakfix:`). */
  prefix: string;
  store: Pick<EnvironmentStore, 'get'>;
  access: Pick<LabAccess, 'terminalTarget'>;
  /** Open terminals are registered here and input touches the lab (idle reaping). */
  activity?: Pick<LabActivity, 'terminalOpened' | 'touch' | 'openTerminals'>;
  /**
   * A connection of its own for lab events and terminal watching (SUBSCRIBE takes it over).
   * None: no banners, no `ended`, and nobody can watch.
   */
  subscriber?: Redis;
  /** Who may watch (admin and instructor tokens; the dashboard's cookie). */
  tokens: readonly ApiToken[];
  /** The orchestrator's origin as browsers see it (`https://labs.example.com`). Default: from the Host header. */
  publicOrigin?: string;
  /** Browser terminals per lab at once. Default 4. */
  maxTerminalsPerLab?: number;
  /** Largest frame a browser may send (the page sends a big paste in pieces). Default 64 KiB. */
  maxFrameBytes?: number;
  /** Sockets that miss a pong for this long are dropped. Default 30 s. */
  pingIntervalMs?: number;
  /** How often an open terminal asks whether its lab is still claimed (events may be missed). Default 60 s. */
  recheckMs?: number;
  /** Deadline of the SSH handshake to the control plane. Default 15 s. */
  sshConnectTimeoutMs?: number;
  /** Input touches the lab's activity at most this often per socket. Default 10 s. */
  touchEveryMs?: number;
  /** Output kept per terminal for an observer who joins late. Default 64 KiB. */
  replayBytes?: number;
  /**
   * Output queued for one observer's socket before it is dropped (its page reconnects and starts
   * again from the last `replayBytes`), so a slow observer cannot grow memory. Default 1 MiB.
   */
  maxObserverBufferBytes?: number;
  /** How often watchers and the watched terminal are renewed in Redis; both expire after 3 of these. Default 5 s. */
  watchHeartbeatMs?: number;
  log?: (message: string) => void;
}

/** One learner's browser terminal: its socket and its shell on the control plane. */
interface Terminal {
  labId: string;
  learner: string;
  socket: WebSocket;
  shell?: Shell;
  /** The pty's size, which observers copy so the output lays out as the learner sees it. */
  size: { cols: number; rows: number };
  /** The last output, for observers who join late (on any replica). */
  replay: Buffer[];
  replaySize: number;
  close(code: number, reason: string): void;
}

const LEARNER_PATH = /^\/labs\/([A-Za-z0-9-]{1,64})\/terminal\/socket$/;
const OBSERVER_PATH = /^\/admin\/labs\/([A-Za-z0-9-]{1,64})\/terminal\/socket$/;

/**
 * The WebSocket side of browser terminals. A learner's socket needs the orchestrator's own Origin,
 * the lab-scoped session cookie, and the lab still claimed by that learner; then it gets a login
 * shell on the control plane (the claim's terminal key, pinned host key, a pty). Observers
 * (admin, instructor) get the same bytes through Redis, whichever replica each side reached
 * (watch-relay.ts), and nothing they send is read.
 */
export function createTerminalSockets(options: TerminalSocketsOptions) {
  const log = options.log ?? (() => {});
  const links = createTerminalAccess({ redis: options.redis, prefix: options.prefix });
  const lookup = createTokenLookup(options.tokens);
  const maxPerLab = options.maxTerminalsPerLab ?? 4;
  const recheckMs = options.recheckMs ?? 60_000;
  const replayBytes = options.replayBytes ?? 64 * 1024;
  const touchEveryMs = options.touchEveryMs ?? 10_000;
  const maxObserverBuffer = options.maxObserverBufferBytes ?? 1024 * 1024;
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes ?? 64 * 1024 });
  const terminals = new Map<string, Terminal[]>();
  const observers = new Map<string, Set<WebSocket>>();
  const pending = new Map<string, number>();
  const alive = new WeakSet<WebSocket>();

  const send = (socket: WebSocket, message: ServerControl) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };
  const learnersOf = (labId: string) => terminals.get(labId) ?? [];
  const observersOf = (labId: string) => observers.get(labId) ?? new Set<WebSocket>();
  const relay =
    options.subscriber === undefined
      ? undefined
      : createWatchRelay({
          redis: options.redis,
          subscriber: options.subscriber,
          prefix: options.prefix,
          ...(options.watchHeartbeatMs === undefined ? {} : { heartbeatMs: options.watchHeartbeatMs }),
          onWatchers: (labId, count) => {
            for (const t of learnersOf(labId)) send(t.socket, { t: 'watchers', count });
          },
          log,
        });

  const pinger = setInterval(() => {
    for (const socket of wss.clients) {
      if (!alive.has(socket)) {
        socket.terminate();
        continue;
      }
      alive.delete(socket);
      socket.ping();
    }
  }, options.pingIntervalMs ?? 30_000);
  pinger.unref();

  const onEvent = (event: LabEvent) => {
    const sockets = [...learnersOf(event.labId).map((t) => t.socket), ...observersOf(event.labId)];
    switch (event.kind) {
      case 'idle-warning':
        for (const socket of sockets) send(socket, { t: 'notice', text: event.message });
        break;
      case 'activity-reset':
        for (const socket of sockets) send(socket, { t: 'notice', text: null });
        break;
      case 'ended':
        endLab(event.labId, event.message);
        break;
    }
  };
  const channel = labEventsChannel(options.prefix.replace(/:$/, ''));
  if (options.subscriber !== undefined) {
    options.subscriber.on('message', (from: string, message: string) => {
      if (from !== channel) return;
      const event = parseLabEvent(message);
      if (event !== undefined) onEvent(event);
    });
    options.subscriber.subscribe(channel).catch((error: unknown) => {
      log(`browser terminals: subscribing to ${channel} failed: ${(error as Error).message}`);
    });
  }

  /** The lab is over: every socket of it is told why and closed, and every shell hung up. */
  function endLab(labId: string, message: string): void {
    for (const t of [...learnersOf(labId)]) {
      send(t.socket, { t: 'ended', text: message });
      t.close(CLOSE.ended, 'lab ended');
    }
    for (const socket of observersOf(labId)) {
      send(socket, { t: 'ended', text: message });
      socket.close(CLOSE.ended, 'lab ended');
    }
  }

  /** Why this learner may not have a terminal on this lab now, or undefined when they may. */
  function refusal(env: Environment, grant: TerminalGrant): string | undefined {
    if (env.learner !== grant.learner) return `lab ${env.id} is no longer yours`;
    if (env.state !== 'claimed') return `lab ${env.id} has ended (${env.state})`;
    return undefined;
  }

  const originOf = (request: IncomingMessage) => {
    if (options.publicOrigin !== undefined) return new URL(options.publicOrigin).origin;
    const secure = (request.socket as { encrypted?: boolean }).encrypted === true;
    return `${secure ? 'https' : 'http'}://${request.headers.host ?? ''}`;
  };

  async function learnerConnected(socket: WebSocket, request: IncomingMessage, labId: string, url: URL) {
    const grant = await links.session(labId, readCookie(request.headers.cookie, SESSION_COOKIE));
    if (grant === undefined) {
      socket.close(CLOSE.refused, 'no browser session for this lab: open a new link (/lab open)');
      return;
    }
    const env = await options.store.get(labId).catch(() => undefined);
    const refused = env === undefined ? `lab ${labId} is gone` : refusal(env, grant);
    if (refused !== undefined || env === undefined) {
      send(socket, { t: 'ended', text: refused ?? 'the lab is gone' });
      socket.close(CLOSE.ended, 'lab ended');
      return;
    }
    const local = learnersOf(labId).length + (pending.get(labId) ?? 0);
    const open = Math.max(local, (await options.activity?.openTerminals(labId)) ?? 0);
    if (open >= maxPerLab) {
      socket.close(
        CLOSE.refused,
        `${maxPerLab} browser terminals are open on this lab already: close one, then reload`,
      );
      return;
    }
    pending.set(labId, (pending.get(labId) ?? 0) + 1);
    const size = (name: string, fallback: number, max: number) => {
      const value = Number(url.searchParams.get(name));
      return Number.isInteger(value) && value >= 1 && value <= max ? value : fallback;
    };
    let closeActivity: (() => Promise<void>) | undefined;
    const terminal: Terminal = {
      labId,
      learner: grant.learner,
      socket,
      size: { cols: size('cols', 80, 500), rows: size('rows', 24, 200) },
      replay: [],
      replaySize: 0,
      close(code, reason) {
        this.shell?.close();
        if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason);
      },
    };
    try {
      closeActivity = await options.activity?.terminalOpened(labId);
      const target = await options.access.terminalTarget(env);
      send(socket, { t: 'status', text: 'connecting to the control plane' });
      terminal.shell = await openShell(target, {
        ...terminal.size,
        connectTimeoutMs: options.sshConnectTimeoutMs ?? 15_000,
      });
    } catch (error) {
      pending.set(labId, (pending.get(labId) ?? 1) - 1);
      await closeActivity?.().catch(() => undefined);
      log(`browser terminal for ${labId}: ${(error as Error).message}`);
      if ((error as { code?: string }).code === 'conflict') {
        // A lab claimed before browser terminals existed has no terminal key: retrying cannot help.
        socket.close(CLOSE.refused, 'this lab has no browser terminal: release it and claim a new one');
      } else {
        socket.close(CLOSE.unavailable, 'the lab did not answer; retrying');
      }
      return;
    }
    pending.set(labId, (pending.get(labId) ?? 1) - 1);
    if (socket.readyState !== socket.OPEN) {
      terminal.shell.close();
      await closeActivity?.().catch(() => undefined);
      return;
    }
    const shell = terminal.shell;
    terminals.set(labId, [...learnersOf(labId), terminal]);
    send(socket, { t: 'status', text: 'connected' });
    // Observers (any replica) may follow this terminal; output before the relay answers is in the replay.
    let watch: Awaited<ReturnType<WatchRelay['learnerOpened']>> | undefined;
    const watching = relay
      ?.learnerOpened(labId, { size: () => terminal.size, replay: () => terminal.replay })
      .then((handle) => {
        watch = handle;
        return handle;
      })
      .catch((error: unknown) => {
        log(`watching ${labId}: ${(error as Error).message}`);
        return undefined;
      });

    shell.onData((chunk) => {
      if (socket.readyState === socket.OPEN) socket.send(chunk);
      terminal.replay.push(chunk);
      terminal.replaySize += chunk.length;
      while (terminal.replaySize > replayBytes && terminal.replay.length > 1) {
        terminal.replaySize -= terminal.replay.shift()?.length ?? 0;
      }
      watch?.output(chunk);
    });
    shell.onClose((reason) => {
      send(socket, { t: 'status', text: reason });
      if (socket.readyState === socket.OPEN) socket.close(CLOSE.shellExited, 'the shell exited');
    });

    let lastTouch = 0;
    socket.on('message', (data: RawData, isBinary: boolean) => {
      const frame = parseClientFrame(data, isBinary);
      if (frame === undefined) return;
      if (frame.t === 'r') {
        shell.resize(frame.cols, frame.rows);
        terminal.size = { cols: frame.cols, rows: frame.rows };
        watch?.resized();
      } else shell.write(frame.d);
      if (frame.t === 'i' && Date.now() - lastTouch >= touchEveryMs) {
        lastTouch = Date.now();
        options.activity?.touch(labId).catch(() => undefined);
      }
    });

    const recheck = setInterval(async () => {
      const now = await options.store.get(labId).catch(() => undefined);
      const why = now === undefined ? `lab ${labId} is gone` : refusal(now, grant);
      if (why !== undefined) {
        send(socket, { t: 'ended', text: why });
        terminal.close(CLOSE.ended, 'lab ended');
      }
    }, recheckMs);
    recheck.unref();

    socket.once('close', () => {
      clearInterval(recheck);
      const rest = learnersOf(labId).filter((t) => t !== terminal);
      if (rest.length === 0) terminals.delete(labId);
      else terminals.set(labId, rest);
      shell.close();
      closeActivity?.().catch(() => undefined);
      // Observers switch to the lab's next terminal, on this replica or another.
      watching?.then((handle) => handle?.closed()).catch(() => undefined);
    });
  }

  async function observerConnected(socket: WebSocket, request: IncomingMessage, labId: string) {
    const caller = (() => {
      const token = presentedToken(undefined, request.headers.cookie);
      return token === undefined ? undefined : lookup(token);
    })();
    if (caller === undefined || (caller.role !== 'admin' && caller.role !== 'instructor')) {
      socket.close(CLOSE.refused, 'sign in to the dashboard as an admin or instructor');
      return;
    }
    // Whatever an observer sends is dropped unread: nothing reaches the lab.
    socket.on('message', () => undefined);
    if (relay === undefined) {
      socket.close(CLOSE.refused, 'watching needs the orchestrator to subscribe to Redis');
      return;
    }
    const set = observers.get(labId) ?? new Set<WebSocket>();
    set.add(socket);
    observers.set(labId, set);
    log(`${caller.name} watches the browser terminal of ${labId}`);
    // A slow observer is dropped rather than buffered without end; its page reconnects and is
    // sent the recent screen again.
    const behind = () => {
      if (socket.bufferedAmount <= maxObserverBuffer) return false;
      socket.close(CLOSE.unavailable, 'fell behind the terminal; catching up');
      return true;
    };
    const watching = await relay.observe(labId, {
      output(chunk) {
        if (socket.readyState === socket.OPEN && !behind()) socket.send(chunk);
      },
      control(message) {
        if (!behind()) send(socket, message);
      },
    });
    const leave = () => {
      set.delete(socket);
      if (set.size === 0 && observers.get(labId) === set) observers.delete(labId);
      watching.close().catch(() => undefined);
    };
    if (socket.readyState === socket.CLOSED) leave();
    else socket.once('close', leave);
  }

  /** Takes a matching upgrade request; false when the path is not a terminal's (the caller decides). */
  function handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(request.url ?? '/', 'http://terminal.invalid');
    const learnerLab = LEARNER_PATH.exec(url.pathname)?.[1];
    const observedLab = OBSERVER_PATH.exec(url.pathname)?.[1];
    const labId = learnerLab ?? observedLab;
    if (labId === undefined) return false;
    // A page on another site must not drive a learner's shell with the learner's cookie.
    if (request.headers.origin !== originOf(request)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nforeign origin\n');
      return true;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      alive.add(ws);
      ws.on('pong', () => alive.add(ws));
      ws.on('error', () => ws.terminate());
      const connected =
        learnerLab !== undefined ? learnerConnected(ws, request, labId, url) : observerConnected(ws, request, labId);
      Promise.resolve(connected).catch((error: unknown) => {
        log(`browser terminal for ${labId} failed: ${(error as Error).message}`);
        ws.close(CLOSE.unavailable, 'internal error; retrying');
      });
    });
    return true;
  }

  return {
    handleUpgrade,
    /** Serves terminal sockets on a node HTTP server; other upgrade requests are refused. */
    attach(server: {
      on(event: 'upgrade', listener: (request: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
    }): void {
      server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (!handleUpgrade(request, socket, head)) socket.destroy();
      });
    },
    /** Browser terminals open on a lab in this process. */
    open(labId: string): number {
      return learnersOf(labId).length;
    },
    /** Drops every socket of a lab (each browser reconnects to a fresh shell). */
    drop(labId: string): void {
      for (const t of learnersOf(labId)) t.socket.terminate();
    },
    endLab,
    async close(): Promise<void> {
      clearInterval(pinger);
      relay?.close();
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      if (options.subscriber !== undefined) await options.subscriber.unsubscribe(channel).catch(() => undefined);
    },
  };
}

export type TerminalSockets = ReturnType<typeof createTerminalSockets>;
