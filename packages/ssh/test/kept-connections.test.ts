import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { keyPair } from '../../sandbox/test/fixtures.js';
import { createSshRunner, type SshConnectEvent, type SshTarget } from '../src/index.js';

/**
 * Kept connections against a real OpenSSH sshd on loopback, which the tests restart (its
 * connections die with it, as when a guest's sshd restarts or its VM goes away) or cut off
 * silently (a proxy that stops forwarding, as a vanished VM does to a TCP connection).
 */
const dir = mkdtempSync(join(tmpdir(), 'bf-kept-'));
const host = keyPair('host');
const client = keyPair('client');
let port = 0;
let sshd: ChildProcess | undefined;
let target: SshTarget;

function startSshd(): ChildProcess {
  return spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: 'ignore' });
}

/** The sshd and every process it started (its connections' own processes): the restart of a guest's sshd. */
function killSshd(root: ChildProcess): void {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended meanwhile
    }
  }
  const tree: number[] = [];
  const walk = (pid: number) => {
    tree.push(pid);
    for (const child of children.get(pid) ?? []) walk(child);
  };
  walk(root.pid ?? -1);
  for (const pid of tree.reverse()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: free } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return free;
}

async function listening(runner = createSshRunner({ reuseConnectionsMs: 0 })): Promise<void> {
  await waitFor(async () => ((await runner.exec(target, 'true').catch(() => undefined)) ? true : undefined), {
    what: `sshd on 127.0.0.1:${port}`,
    timeoutMs: 10_000,
    intervalMs: 50,
  });
}

/** The client port of the connection a command ran on (sshd tells the session). */
const connectionOf = (stdout: string) => stdout.trim().split(' ')[1];

before(async () => {
  port = await freePort();
  writeFileSync(join(dir, 'host_key'), host.private, { mode: 0o600 });
  writeFileSync(join(dir, 'authorized_keys'), `${client.public}\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      '',
    ].join('\n'),
  );
  target = { host: '127.0.0.1', port, username: 'root', privateKey: client.private, hostKey: host.public };
  sshd = startSshd();
  await listening();
});

after(() => {
  if (sshd !== undefined) killSshd(sshd);
  rmSync(dir, { recursive: true, force: true });
});

describe('kept SSH connections', { timeout: 60_000 }, () => {
  test('a kept target is connected before its first command and stays connected past the idle time', async () => {
    // Given a runner that closes idle connections after 50 ms, keeping one target
    const handshakes: SshConnectEvent[] = [];
    const runner = createSshRunner({ reuseConnectionsMs: 50, onConnect: (event) => handshakes.push(event) });
    const kept = runner.keep(target);
    try {
      // When the connection is ready, and commands come later than the idle time apart
      await kept.ready();
      assert.equal(handshakes.length, 1, 'keep() connects at once');
      const first = await runner.exec(target, 'echo "$SSH_CONNECTION"');
      await new Promise((resolve) => setTimeout(resolve, 200)); // well past the idle time, on purpose
      const second = await runner.exec(target, 'echo "$SSH_CONNECTION"');
      // Then both ran on the connection opened by keep(): no handshake of their own
      assert.equal(handshakes.length, 1);
      assert.equal(connectionOf(second.stdout), connectionOf(first.stdout));
      // And once no longer kept, the connection closes when idle like any other
      kept.stop();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await runner.exec(target, 'true');
      assert.equal(handshakes.length, 2);
    } finally {
      kept.stop();
      runner.close();
    }
  });

  test("after the server's sshd restarted, the kept connection is opened again and commands still run", async () => {
    // Given a kept connection
    const handshakes: SshConnectEvent[] = [];
    const runner = createSshRunner({ reopenDelayMs: 50, onConnect: (event) => handshakes.push(event) });
    const kept = runner.keep(target);
    try {
      await kept.ready();
      const before = connectionOf((await runner.exec(target, 'echo "$SSH_CONNECTION"')).stdout);
      // When sshd restarts (its connections die with it)
      if (sshd !== undefined) killSshd(sshd);
      sshd = startSshd();
      await listening();
      // Then the runner opens the kept connection again by itself
      await waitFor(async () => (handshakes.filter((h) => h.ok).length >= 2 ? true : undefined), {
        what: 'the kept connection re-opened',
        timeoutMs: 10_000,
        intervalMs: 20,
      });
      // And a command runs on it: a new connection, no handshake of its own
      const after = await runner.exec(target, 'echo "$SSH_CONNECTION"', { idempotent: true });
      assert.equal(after.code, 0);
      assert.notEqual(connectionOf(after.stdout), before);
      assert.equal(handshakes.filter((h) => h.ok).length, 2);
    } finally {
      kept.stop();
      runner.close();
    }
  });

  test('a kept connection that went silent is given up within the channel deadline; an idempotent command moves', async () => {
    // Given a kept connection through a proxy that can stop forwarding on the connections it carries
    const sockets: Socket[] = [];
    const proxy = createServer((inbound) => {
      const outbound = new Socket();
      outbound.connect(port, '127.0.0.1');
      inbound.pipe(outbound);
      outbound.pipe(inbound);
      const drop = () => {
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on('error', drop);
      outbound.on('error', drop);
      inbound.on('close', drop);
      outbound.on('close', drop);
      sockets.push(inbound);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxied = { ...target, port: (proxy.address() as AddressInfo).port };
    const handshakes: SshConnectEvent[] = [];
    const runner = createSshRunner({
      channelOpenTimeoutMs: 500,
      keepaliveIntervalMs: 60_000,
      onConnect: (event) => handshakes.push(event),
    });
    const kept = runner.keep(proxied);
    try {
      await kept.ready();
      // When the proxy silently stops forwarding what the client sends on the kept connection
      for (const socket of sockets) socket.unpipe();
      const started = Date.now();
      // Then an idempotent command runs on a new connection after about the channel deadline
      const moved = await runner.exec(proxied, 'echo moved', { idempotent: true, timeoutMs: 10_000 });
      assert.equal(moved.stdout, 'moved\n');
      assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
      assert.equal(handshakes.filter((h) => h.ok).length, 2);
      // And a command that must not run twice fails instead, saying it may not have run
      for (const socket of sockets) socket.unpipe();
      await assert.rejects(runner.exec(proxied, 'echo once', { timeoutMs: 10_000 }), /may not have run/);
    } finally {
      kept.stop();
      runner.close();
      for (const socket of sockets) socket.destroy();
      proxy.close();
    }
  });
});
