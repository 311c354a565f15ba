import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { ConflictError, InvalidInputError } from '@breakfix/core';
import type { NetworkNamespace } from './namespace.js';
import { TOOLS } from './tools.js';

export interface Exposure {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export function assertLoopback(address: string): void {
  const octets = address.split('.').map(Number);
  const valid = octets.length === 4 && octets.every((octet) => Number.isInteger(octet) && octet >= 0 && octet <= 255);
  if (!valid || octets[0] !== 127) {
    throw new InvalidInputError(`${address} is not a loopback address`, {
      hint: 'expose guests on 127.x.y.z only: the root namespace never talks to private-range addresses',
    });
  }
}

/**
 * Makes `<guest>:<port>` inside the lab's namespace reachable as `<address>:<port>` on loopback in
 * ours, without any route between the two: a Node server listens on the loopback address and, per
 * connection, starts `socat STDIO TCP:<guest>:<port>` inside the namespace and pipes the connection
 * through its stdio. Traffic to the guest always leaves from the namespace, and every socat is
 * spawned with pdeathsig, so none outlives us (a forking socat's children would: pdeathsig is not
 * inherited across fork).
 */
export async function exposePort(options: {
  namespace: NetworkNamespace;
  logFile: string;
  guest: string;
  address: string;
  port: number;
}): Promise<Exposure> {
  const { namespace, address, port, guest, logFile } = options;
  assertLoopback(address);
  const carriers = new Set<ChildProcess>();
  const clients = new Set<Socket>();

  const server = createServer((client) => {
    const log = openSync(logFile, 'a');
    let carrier: ChildProcess;
    try {
      carrier = spawn(
        TOOLS.setpriv.path,
        [
          '--pdeathsig',
          'KILL',
          '--',
          TOOLS.nsenter.path,
          `--net=${namespace.path}`,
          '--',
          TOOLS.socat.path,
          'STDIO',
          `TCP:${guest}:${port},connect-timeout=10`,
        ],
        { stdio: ['pipe', 'pipe', log] },
      );
    } finally {
      closeSync(log);
    }
    carriers.add(carrier);
    clients.add(client);
    const done = () => {
      carrier.kill('SIGKILL');
      client.destroy();
      carriers.delete(carrier);
      clients.delete(client);
    };
    client.on('error', done).on('close', done);
    carrier.on('exit', done).on('error', done);
    carrier.stdin?.on('error', done);
    carrier.stdout?.on('error', done);
    if (carrier.stdin) client.pipe(carrier.stdin);
    carrier.stdout?.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new ConflictError(`${address}:${port} is already in use`, { cause: error })
          : error,
      ),
    );
    server.listen({ host: address, port }, resolve);
  });

  let closed: Promise<void> | undefined;
  return {
    address,
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const client of clients) client.destroy();
        for (const carrier of carriers) carrier.kill('SIGKILL');
      });
      return closed;
    },
  };
}
