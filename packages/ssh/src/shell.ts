import { DeadlineExceededError, UpstreamError } from '@breakfix/core';
import { Client, type ClientChannel } from 'ssh2';
import { fingerprint, HostKeyMismatchError, keyBlob, type SshTarget } from './runner.js';

export interface ShellOptions {
  /** Terminal size at start; `resize` changes it later. */
  cols: number;
  rows: number;
  /** TERM for the pty. Default `xterm-256color` (what xterm.js emulates). */
  term?: string;
  /** Deadline for TCP connect + key exchange + authentication. Default 10 s. */
  connectTimeoutMs?: number;
  /** Keepalive interval; a peer that misses 3 in a row is dropped. Default 15 s. */
  keepaliveIntervalMs?: number;
}

/** An interactive login shell on a pty: bytes in, bytes out, a size, and one end. */
export interface Shell {
  write(data: string | Buffer): void;
  resize(cols: number, rows: number): void;
  onData(listener: (chunk: Buffer) => void): void;
  /** Called once, when the shell exits or the connection drops. */
  onClose(listener: (reason: string) => void): void;
  close(): void;
}

/**
 * Opens a login shell with a pty on `target`, with the runner's guarantees: the host key must be
 * the pinned one, keepalive is on, and the handshake has a deadline. One connection per shell, so
 * closing the shell hangs up the session on the node.
 */
export function openShell(target: SshTarget, options: ShellOptions): Promise<Shell> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const expected = keyBlob(target.hostKey);
  const where = `${target.username}@${target.host}:${target.port ?? 22}`;
  return new Promise((resolve, reject) => {
    const client = new Client();
    let presented: Buffer | undefined;
    let settled = false;
    const fail = (error: Error) => {
      clearTimeout(timer);
      client.destroy();
      if (settled) return;
      settled = true;
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new DeadlineExceededError(`SSH to ${where} not ready within ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    );
    client.on('error', (error: Error & { level?: string }) => {
      if (presented !== undefined && !presented.equals(expected)) {
        fail(new HostKeyMismatchError(target, fingerprint(presented)));
      } else if (error.level === 'client-authentication') {
        fail(new UpstreamError(`SSH authentication as ${where} failed`, { cause: error }));
      } else {
        fail(new UpstreamError(`SSH to ${where} failed: ${error.message}`, { cause: error }));
      }
    });
    client.once('ready', () => {
      client.shell(
        { term: options.term ?? 'xterm-256color', cols: options.cols, rows: options.rows },
        (error, channel) => {
          clearTimeout(timer);
          if (error !== undefined && error !== null) {
            fail(new UpstreamError(`no shell on ${where}: ${error.message}`, { cause: error }));
            return;
          }
          settled = true;
          resolve(wrap(client, channel));
        },
      );
    });
    client.connect({
      host: target.host,
      port: target.port ?? 22,
      username: target.username,
      privateKey: target.privateKey,
      readyTimeout: connectTimeoutMs,
      keepaliveInterval: options.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        presented = key;
        return key.equals(expected);
      },
    });
  });
}

function wrap(client: Client, channel: ClientChannel): Shell {
  const closers: ((reason: string) => void)[] = [];
  let closed: string | undefined;
  const end = (reason: string) => {
    if (closed !== undefined) return;
    closed = reason;
    client.end();
    for (const listener of closers) listener(reason);
  };
  channel.on('exit', (code: number | null, signal?: string) =>
    end(code === null ? `the shell was killed (${signal ?? 'signal'})` : `the shell exited (${code})`),
  );
  channel.on('close', () => end('the shell closed'));
  client.on('close', () => end('the connection to the lab closed'));
  client.on('error', (error: Error) => end(`the connection to the lab failed: ${error.message}`));
  return {
    write: (data) => {
      if (closed === undefined) channel.write(data);
    },
    resize: (cols, rows) => {
      if (closed === undefined) channel.setWindow(rows, cols, 0, 0);
    },
    onData: (listener) => {
      channel.on('data', listener);
      channel.stderr.on('data', listener);
    },
    onClose: (listener) => {
      if (closed !== undefined) listener(closed);
      else closers.push(listener);
    },
    close: () => end('closed by the platform'),
  };
}
