import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { BreakfixError, DeadlineExceededError, UpstreamError } from '@breakfix/core';
import { Client, type ClientChannel } from 'ssh2';

export interface SshTarget {
  host: string;
  port?: number;
  username: string;
  /** OpenSSH private key of the account. */
  privateKey: string;
  /** The host key we expect, as an OpenSSH public key line (`ssh-ed25519 AAAA... comment`). */
  hostKey: string;
}

export interface ExecOptions {
  /** Kill the command and fail after this long. Default 60 s. */
  timeoutMs?: number;
  /** Bytes kept per stream (stdout, stderr); the rest is counted and dropped. Default 1 MiB. */
  maxOutputBytes?: number;
  /** Written to the command's standard input, then closed. */
  stdin?: string | Buffer;
  /** Run through `sudo -n` (the operator account has passwordless sudo). */
  sudo?: boolean;
  /**
   * The command may run twice: when its connection drops before it reports how it ended (sshd
   * restarted, the peer went away), it runs once more on a new connection instead of failing.
   * Default false: a dropped command ends with `code` and `signal` both unset.
   */
  idempotent?: boolean;
  /** Variables for the command, exported in the remote shell (sshd drops most client env). */
  env?: Record<string, string>;
}

export interface ExecResult {
  /** Exit code; null when the command died by a signal or was killed on timeout. */
  code: number | null;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  /** True when a stream was longer than maxOutputBytes. */
  truncated: boolean;
  durationMs: number;
}

export interface SshRunnerOptions {
  /** Deadline for TCP connect + key exchange + authentication. Default 10 s. */
  connectTimeoutMs?: number;
  /** Keepalive interval; a peer that misses `keepaliveCountMax` in a row is dropped. Default 10 s. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /**
   * Keep a connection open this long after its last command, for the next command to the same
   * target (a claim's key, break and first check then share one handshake). 0 closes every
   * connection after its command. Default 2 s.
   */
  reuseConnectionsMs?: number;
  /**
   * A command on a connection that was already open (kept or shared) whose session channel sshd
   * has not opened within this long moves to a new connection: the old one may be dead without
   * TCP knowing yet (a vanished VM answers nothing; keepalive would notice only after
   * interval x count). Default 3 s.
   */
  channelOpenTimeoutMs?: number;
  /** First pause before a kept connection that closed is opened again; doubles up to 30 s. Default 500 ms. */
  reopenDelayMs?: number;
  /**
   * Told of every connection the runner opens (not of commands that reuse a kept one): how long
   * TCP connect, key exchange and authentication took, and whether they succeeded. For tracing
   * where time goes; nothing is measured when it is absent.
   */
  onConnect?: (event: SshConnectEvent) => void;
}

/** A connection the runner opened: see SshRunnerOptions.onConnect. */
export interface SshConnectEvent {
  host: string;
  port: number;
  username: string;
  /** `performance.now()` when the attempt began. */
  startedAt: number;
  /** Until the server accepted us, or until the attempt failed. */
  ms: number;
  ok: boolean;
}

/** Commands sharing one connection at most (OpenSSH's MaxSessions defaults to 10). */
const MAX_CHANNELS = 8;
/** Attempts of one command whose channel sshd refuses while others share its connection. */
const MAX_REFUSALS = 5;

/** The server presented a host key other than the one pinned for it: possibly not our VM. */
export class HostKeyMismatchError extends BreakfixError {
  constructor(target: SshTarget, presented: string) {
    super(
      'upstream',
      `host key of ${target.host}:${target.port ?? 22} is ${presented}, expected ${fingerprint(keyBlob(target.hostKey))}`,
      {
        hint: 'the VM was replaced or this is not the lab it claims to be; do not trust it',
      },
    );
  }
}

/** The connection closed or went silent before sshd started the command: nothing ran; it runs on a new one. */
class ConnectionLostError extends UpstreamError {}

/** sshd refused to open a session channel: nothing ran (the runner retries once on a new connection). */
class ChannelRefusedError extends UpstreamError {
  constructor(
    message: string,
    /** Other commands were using the connection. */
    readonly shared: boolean,
    /** Channels sshd had opened on it (and not closed) at the time. */
    readonly openBeside: number,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

/** A command overran its deadline; it was killed and the connection closed. */
export class CommandTimeoutError extends DeadlineExceededError {
  readonly partial: ExecResult;

  constructor(command: string, timeoutMs: number, partial: ExecResult) {
    super(`\`${command.slice(0, 80)}\` did not finish within ${timeoutMs} ms; killed`);
    this.partial = partial;
  }
}

/** A connection the runner keeps open to one target until `stop` (SshRunner.keep). */
export interface KeptConnection {
  /** Resolves once a connection is open (now or after a re-open); rejects when this attempt failed. */
  ready(): Promise<void>;
  /** No longer kept: the connection closes after the runner's usual idle time. */
  stop(): void;
}

export interface SshRunner {
  exec(target: SshTarget, command: string, options?: ExecOptions): Promise<ExecResult>;
  /**
   * Opens a connection to `target` now and keeps it open, opening it again whenever it closes, so
   * later commands to that target start on an authenticated connection (one channel, no
   * handshake). Keeping a target twice keeps it until both stop.
   */
  keep(target: SshTarget): KeptConnection;
  /** Closes the connections kept for reuse (the runner stays usable). */
  close(): void;
  /** Writes `content` to `path` on the target (mode 0600 unless given), through sudo if asked. */
  upload(
    target: SshTarget,
    path: string,
    content: string | Buffer,
    options?: { mode?: number; sudo?: boolean },
  ): Promise<void>;
}

/**
 * ssh2 leaves the three things that matter to us off by default: without `hostVerifier` any host
 * key is accepted, keepalive is off, and exec has no timeout. This runner sets all three, caps
 * output, and kills commands that overrun (a KILL signal on the channel, then the connection is
 * closed, which makes sshd hang up the session).
 */
export function createSshRunner(options: SshRunnerOptions = {}): SshRunner {
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;

  function connect(target: SshTarget): Promise<Client> {
    const expected = keyBlob(target.hostKey);
    return new Promise((resolve, reject) => {
      const client = new Client();
      let presented: Buffer | undefined;
      // ssh2 may emit more than one 'error' (a lost socket after a failed handshake, say): every
      // one is handled, the first settles, and none reaches the process as an unhandled event.
      let settled = false;
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        outcome();
      };
      const timer = setTimeout(() => {
        client.destroy();
        settle(() =>
          reject(
            new DeadlineExceededError(
              `SSH to ${target.host}:${target.port ?? 22} not ready within ${connectTimeoutMs} ms`,
            ),
          ),
        );
      }, connectTimeoutMs);
      client.once('ready', () => {
        if (settled) client.end();
        settle(() => resolve(client));
      });
      client.on('error', (error: Error & { level?: string }) => {
        client.destroy();
        settle(() => {
          if (presented !== undefined && !presented.equals(expected)) {
            reject(new HostKeyMismatchError(target, fingerprint(presented)));
          } else if (error.level === 'client-authentication') {
            reject(
              new UpstreamError(`SSH authentication as ${target.username}@${target.host} failed`, { cause: error }),
            );
          } else {
            reject(
              new UpstreamError(`SSH to ${target.host}:${target.port ?? 22} failed: ${error.message}`, {
                cause: error,
              }),
            );
          }
        });
      });
      client.connect({
        host: target.host,
        port: target.port ?? 22,
        username: target.username,
        privateKey: target.privateKey,
        readyTimeout: connectTimeoutMs,
        keepaliveInterval: options.keepaliveIntervalMs ?? 10_000,
        keepaliveCountMax: options.keepaliveCountMax ?? 3,
        hostVerifier: (key: Buffer) => {
          presented = key;
          return key.equals(expected);
        },
      });
    });
  }

  /** Reports the attempt to onConnect, when there is one; the caller still sees its outcome. */
  function observed(target: SshTarget, connecting: Promise<Client>): Promise<Client> {
    const report = options.onConnect;
    if (report === undefined) return connecting;
    const startedAt = performance.now();
    const tell = (ok: boolean) =>
      report({
        host: target.host,
        port: target.port ?? 22,
        username: target.username,
        startedAt,
        ms: performance.now() - startedAt,
        ok,
      });
    connecting.then(
      () => tell(true),
      () => tell(false),
    );
    return connecting;
  }

  const reuseMs = options.reuseConnectionsMs ?? 2_000;
  const channelOpenTimeoutMs = options.channelOpenTimeoutMs ?? 3_000;
  const reopenDelayMs = options.reopenDelayMs ?? 500;
  interface Pooled {
    client: Client;
    /** Commands using it, including those still waiting for sshd to open their channel. */
    active: number;
    /** Channels sshd has opened and not yet closed. */
    open: number;
    /** No new commands: it failed, timed out a command, or was closed. */
    retired: boolean;
    /** The connection closed or failed: a command still on it ends without an exit status. */
    lost: boolean;
    idle?: NodeJS.Timeout;
  }
  /** Commands per connection for targets whose sshd refused more than MAX_CHANNELS. */
  const channelCaps = new Map<string, number>();
  /** Kept connections per target, and the one being opened (later commands wait to share it). */
  const pools = new Map<string, { entries: Pooled[]; connecting?: Promise<Pooled> }>();
  /** Targets kept open (keep()): how many keep each, and the pause before the next re-open. */
  const kept = new Map<string, { target: SshTarget; holders: number; delayMs: number; reopen?: NodeJS.Timeout }>();
  const keyOf = (target: SshTarget) =>
    `${target.username}@${target.host}:${target.port ?? 22} ${keyBlob(target.hostKey).toString('base64')} ${createHash('sha256').update(target.privateKey).digest('hex')}`;

  function retire(key: string, entry: Pooled): void {
    entry.retired = true;
    const slot = pools.get(key);
    if (slot !== undefined) {
      slot.entries = slot.entries.filter((e) => e !== entry);
      if (slot.entries.length === 0 && slot.connecting === undefined) pools.delete(key);
    }
    clearTimeout(entry.idle);
    if (entry.active === 0) entry.client.end();
    if (!pools.has(key)) reopenLater(key);
  }

  /** A kept target with no connection left gets a new one after a pause (doubling up to 30 s). */
  function reopenLater(key: string): void {
    const keeping = kept.get(key);
    if (keeping === undefined || keeping.reopen !== undefined) return;
    keeping.reopen = setTimeout(() => {
      keeping.reopen = undefined;
      if (kept.get(key) === keeping) ensureOpen(keeping.target).catch(() => undefined);
    }, keeping.delayMs);
    keeping.reopen.unref();
    keeping.delayMs = Math.min(keeping.delayMs * 2, 30_000);
  }

  /** Opens a connection to a kept target unless one is open or opening (nothing runs on it). */
  async function ensureOpen(target: SshTarget): Promise<void> {
    const key = keyOf(target);
    try {
      const { entry } = await acquire(target);
      release(key, entry);
      const keeping = kept.get(key);
      if (keeping !== undefined) keeping.delayMs = reopenDelayMs;
    } catch (error) {
      reopenLater(key);
      throw error;
    }
  }

  /**
   * A connection to `target`: a kept one with room, else a new one (kept when reuse is on).
   * `fresh` when this call opened it.
   */
  async function acquire(target: SshTarget): Promise<{ entry: Pooled; key: string; fresh: boolean }> {
    const key = keyOf(target);
    for (;;) {
      const slot = pools.get(key) ?? { entries: [] };
      pools.set(key, slot);
      const cap = channelCaps.get(key) ?? MAX_CHANNELS;
      const free = slot.entries.find((e) => !e.retired && e.active < cap);
      if (free !== undefined) {
        clearTimeout(free.idle);
        free.active++;
        return { entry: free, key, fresh: false };
      }
      if (slot.connecting !== undefined && (reuseMs > 0 || kept.has(key))) {
        await slot.connecting.catch(() => undefined); // then share it, or open the next one
        continue;
      }
      const connecting = observed(target, connect(target)).then((client) => {
        const entry: Pooled = {
          client,
          active: 0,
          open: 0,
          retired: reuseMs === 0 && !kept.has(key),
          lost: false,
        };
        const lost = () => {
          entry.lost = true;
          retire(key, entry);
        };
        client.on('close', lost);
        client.on('error', lost);
        if (!entry.retired) slot.entries.push(entry);
        return entry;
      });
      slot.connecting = connecting;
      try {
        const entry = await connecting;
        entry.active++;
        return { entry, key, fresh: true };
      } finally {
        if (slot.connecting === connecting) slot.connecting = undefined;
        if (slot.entries.length === 0 && slot.connecting === undefined && pools.get(key) === slot) pools.delete(key);
      }
    }
  }

  function release(key: string, entry: Pooled): void {
    entry.active--;
    if (entry.active > 0) return;
    if (entry.retired) {
      entry.client.end();
      return;
    }
    if (kept.has(key)) return; // kept open until stop()
    idleClose(key, entry);
  }

  function idleClose(key: string, entry: Pooled): void {
    if (reuseMs === 0) {
      retire(key, entry);
      return;
    }
    clearTimeout(entry.idle);
    entry.idle = setTimeout(() => retire(key, entry), reuseMs);
    entry.idle.unref();
  }

  async function exec(target: SshTarget, command: string, execOptions: ExecOptions = {}): Promise<ExecResult> {
    const started = Date.now();
    let refusals = 0;
    let losses = 0;
    for (;;) {
      try {
        return await execOnce(target, command, execOptions, started);
      } catch (error) {
        // The connection was gone (or silent) before the command started, or dropped it midway
        // and the command may run again: it runs on a new connection. Twice at most, so a target
        // that keeps dropping connections fails instead of looping.
        if (error instanceof ConnectionLostError) {
          if (++losses <= 2) continue;
          throw error;
        }
        // sshd refused a session beside others on a shared connection (its MaxSessions is lower
        // than ours, or it had not yet freed sessions that just ended): the command never
        // started, so it runs on another connection. Where sshd had confirmed some channels
        // first, this target gets at most that many per connection from now on.
        if (!(error instanceof ChannelRefusedError) || !error.shared || ++refusals >= MAX_REFUSALS) throw error;
        if (error.openBeside > 0) {
          const key = keyOf(target);
          channelCaps.set(key, Math.min(channelCaps.get(key) ?? MAX_CHANNELS, error.openBeside));
        }
      }
    }
  }

  async function execOnce(
    target: SshTarget,
    command: string,
    execOptions: ExecOptions,
    started: number,
  ): Promise<ExecResult> {
    const timeoutMs = execOptions.timeoutMs ?? 60_000;
    const cap = execOptions.maxOutputBytes ?? 1024 * 1024;
    const { entry, key, fresh } = await acquire(target);
    const client = entry.client;
    const remote = remoteCommand(command, execOptions, timeoutMs);
    const where = `${target.host}:${target.port ?? 22}`;
    try {
      return await new Promise<ExecResult>((resolve, reject) => {
        // Alone on a connection opened earlier: if sshd does not open the channel in time, the
        // connection is presumed dead and closed (no other command is using it).
        const alone = !fresh && entry.active === 1;
        let opened = false;
        const silence = alone
          ? setTimeout(() => {
              if (opened) return;
              entry.lost = true;
              retire(key, entry);
              client.destroy();
              if (!execOptions.idempotent)
                reject(
                  new UpstreamError(
                    `SSH to ${where}: no channel within ${channelOpenTimeoutMs} ms on an open connection; the command may not have run`,
                  ),
                );
            }, channelOpenTimeoutMs)
          : undefined;
        const started_ = () => {
          opened = true;
          clearTimeout(silence);
        };
        try {
          client.exec(remote, (error, channel: ClientChannel) => {
            started_();
            if (error) {
              const lost = entry.lost;
              const shared = entry.active > 1;
              const openBeside = entry.open;
              retire(key, entry);
              if (lost && execOptions.idempotent)
                return reject(
                  new ConnectionLostError(`SSH to ${where} closed before the command started`, { cause: error }),
                );
              return reject(
                new ChannelRefusedError(`SSH exec on ${target.host} failed: ${error.message}`, shared, openBeside, {
                  cause: error,
                }),
              );
            }
            entry.open++;
            channel.once('close', () => entry.open--);
            const out = capped(cap);
            const err = capped(cap);
            let code: number | null = null;
            let signal: string | undefined;
            const result = (): ExecResult => ({
              code,
              signal,
              stdout: out.text(),
              stderr: err.text(),
              truncated: out.truncated() || err.truncated(),
              durationMs: Date.now() - started,
            });
            const timer = setTimeout(() => {
              try {
                channel.signal('KILL');
              } catch {
                // the channel may already be closing
              }
              channel.close();
              // The connection goes with the command unless others share it; then it only takes no
              // new ones (the remote `timeout` kills the command on the server either way).
              retire(key, entry);
              if (entry.active <= 1) client.destroy();
              reject(new CommandTimeoutError(command, timeoutMs, result()));
            }, timeoutMs);
            channel.on('data', out.push);
            channel.stderr.on('data', err.push);
            channel.on('exit', (exitCode: number | null, exitSignal?: string) => {
              code = exitCode;
              signal = exitSignal ?? undefined;
            });
            channel.on('close', () => {
              clearTimeout(timer);
              if (code === null && signal === undefined && entry.lost && execOptions.idempotent)
                return reject(new ConnectionLostError(`SSH to ${where} dropped while the command ran`));
              resolve(result());
            });
            if (execOptions.stdin !== undefined) channel.end(execOptions.stdin);
            else channel.end();
          });
        } catch (error) {
          // ssh2 throws when the socket is already gone (its 'close' not yet seen): nothing was sent.
          started_();
          entry.lost = true;
          retire(key, entry);
          reject(new ConnectionLostError(`SSH to ${where} was closed`, { cause: error }));
        }
      });
    } finally {
      release(key, entry);
    }
  }

  return {
    exec,
    keep(target) {
      const key = keyOf(target);
      const keeping = kept.get(key) ?? { target, holders: 0, delayMs: reopenDelayMs };
      kept.set(key, keeping);
      keeping.holders++;
      let first: Promise<void> | undefined = ensureOpen(target);
      first.catch(() => undefined);
      let stopped = false;
      return {
        ready() {
          const opening = first ?? ensureOpen(target);
          first = undefined;
          return opening;
        },
        stop() {
          if (stopped) return;
          stopped = true;
          keeping.holders--;
          if (keeping.holders > 0 || kept.get(key) !== keeping) return;
          kept.delete(key);
          clearTimeout(keeping.reopen);
          for (const entry of pools.get(key)?.entries ?? []) if (entry.active === 0) idleClose(key, entry);
        },
      };
    },
    close() {
      for (const keeping of kept.values()) clearTimeout(keeping.reopen);
      kept.clear();
      for (const [key, slot] of pools) for (const entry of slot.entries) retire(key, entry);
    },
    async upload(target, path, content, uploadOptions = {}) {
      const mode = (uploadOptions.mode ?? 0o600).toString(8);
      const result = await exec(target, `umask 077 && cat > ${quote(path)} && chmod ${mode} ${quote(path)}`, {
        stdin: content,
        ...(uploadOptions.sudo ? { sudo: true } : {}),
      });
      if (result.code !== 0) {
        throw new UpstreamError(
          `upload of ${path} to ${target.host} failed (exit ${result.code}): ${result.stderr.trim()}`,
        );
      }
    },
  };
}

/**
 * The command line sent to the server: variables exported first, run by sh under `timeout`, so
 * the server kills it too (sshd does not hang up a session without a terminal when its client
 * goes away, and not every sshd honours signal requests), through sudo if asked (sudo first, so
 * a root command stays killable).
 */
function remoteCommand(command: string, options: ExecOptions, timeoutMs: number): string {
  const exports = Object.entries(options.env ?? {}).map(([key, value]) => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(key))
      throw new BreakfixError('invalid_input', `environment variable name "${key}" is not allowed`);
    return `${key}=${quote(value)}`;
  });
  const prefix = exports.length > 0 ? `export ${exports.join(' ')}; ` : '';
  const script = `${prefix}${command}`;
  const guarded = `timeout -s KILL ${Math.ceil(timeoutMs / 1000) + 1} sh -c ${quote(script)}`;
  return options.sudo ? `sudo -n ${guarded}` : guarded;
}

export function quote(value: string): string {
  return `'${value.replaceAll("'", `'"'"'`)}'`;
}

function capped(limit: number) {
  const chunks: Buffer[] = [];
  let kept = 0;
  let over = false;
  return {
    push: (chunk: Buffer) => {
      if (kept >= limit) {
        over = true;
        return;
      }
      const slice = chunk.subarray(0, limit - kept);
      if (slice.length < chunk.length) over = true;
      chunks.push(slice);
      kept += slice.length;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
    truncated: () => over,
  };
}

export function keyBlob(publicKey: string): Buffer {
  const blob = publicKey.trim().split(/\s+/)[1];
  if (blob === undefined) throw new BreakfixError('invalid_input', 'pinned host key is not an OpenSSH public key line');
  return Buffer.from(blob, 'base64');
}

/** OpenSSH's `SHA256:...` fingerprint of a key blob. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
