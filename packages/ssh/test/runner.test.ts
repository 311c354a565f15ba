import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { DeadlineExceededError, UpstreamError, waitFor } from '@breakfix/core';
import { createKube, type KubeObject } from '@breakfix/kube';
import { uniqueName, useSandbox } from '@breakfix/testkit';
import { cloudInitSecret, keyPair, namespace, userData, virtualMachine } from '../../sandbox/test/fixtures.js';
import {
  CommandTimeoutError,
  createSshRunner,
  HostKeyMismatchError,
  type SshConnectEvent,
  type SshTarget,
} from '../src/index.js';

const runner = createSshRunner({ connectTimeoutMs: 5_000 });
let target: SshTarget;

before(async () => {
  // Given a simulated VM whose cloud-init pins a host key and authorizes the operator's key
  const kube = createKube({ kubeconfig: (await useSandbox()).info.kubeconfig });
  const ns = uniqueName('ssh');
  const hostKey = keyPair('host');
  const operator = keyPair('operator');
  await kube.apply(namespace(ns));
  await kube.apply(cloudInitSecret(ns, 'ci', userData({ hostKey, users: { breakfix: [operator.public] } })));
  await kube.apply(virtualMachine(ns, 'cp', { secret: 'ci' }));
  const address = await waitFor(
    async () => {
      const vmi = await kube.get<KubeObject & { status?: { phase?: string; interfaces?: { ipAddress?: string }[] } }>({
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        namespace: ns,
        name: 'cp',
      });
      return vmi?.status?.phase === 'Running' ? vmi.status.interfaces?.[0]?.ipAddress : undefined;
    },
    { what: 'the VM to run', timeoutMs: 20_000 },
  );
  target = { host: address, username: 'breakfix', privateKey: operator.private, hostKey: hostKey.public };
});

describe('SSH runner', () => {
  test('runs a command: exit code, stdout, stderr, exported variables, sudo', async () => {
    const result = await runner.exec(target, 'echo "$LAB_ID on $NODE"; echo oops >&2; exit 3', {
      env: { LAB_ID: "it's lab-1", NODE: 'cp' },
    });
    assert.equal(result.code, 3);
    assert.equal(result.stdout, "it's lab-1 on cp\n");
    assert.equal(result.stderr, 'oops\n');
    assert.equal(result.truncated, false);
    // sudo is root on the node, as on a real one
    assert.equal((await runner.exec(target, 'id -un', { sudo: true })).stdout, 'root\n');
    assert.equal((await runner.exec(target, 'id -un')).stdout, 'breakfix\n');
  });

  test('commands close together share one connection; apart, or with reuse off, they do not', async () => {
    // sshd tells a session its client's address and port: the same port is the same connection
    const connection = async (r = runner) => (await r.exec(target, 'echo "$SSH_CONNECTION"')).stdout.trim();
    const first = await connection();
    assert.match(first, /^\S+ \d+ \S+ 22$/);
    assert.equal(await connection(), first, 'the next command reuses it');
    const together = await Promise.all(Array.from({ length: 12 }, () => connection()));
    assert.ok(new Set(together).size <= 3, 'twelve at once need at most a couple of connections');
    runner.close();
    assert.notEqual(await connection(), first, 'close() ends kept connections');
    const oneShot = createSshRunner({ reuseConnectionsMs: 0 });
    assert.notEqual(await connection(oneShot), await connection(oneShot));
  });

  test('refuses a server whose host key is not the pinned one, naming its fingerprint', async () => {
    await assert.rejects(runner.exec({ ...target, hostKey: keyPair().public }, 'true'), (error: unknown) => {
      assert.ok(error instanceof HostKeyMismatchError);
      assert.match(error.message, /host key of .+:22 is SHA256:\S+, expected SHA256:\S+/);
      return true;
    });
  });

  test('reports a refused key as an authentication failure', async () => {
    await assert.rejects(runner.exec({ ...target, privateKey: keyPair().private }, 'true'), (error: unknown) => {
      assert.ok(error instanceof UpstreamError);
      assert.match(error.message, /SSH authentication as breakfix@.+ failed/);
      return true;
    });
  });

  test('kills a command that overruns its deadline, on the server too', async () => {
    const marker = `sleep 37.${Math.floor(Math.random() * 1e6)}`;
    const started = Date.now();
    await assert.rejects(runner.exec(target, marker, { timeoutMs: 500 }), CommandTimeoutError);
    assert.ok(Date.now() - started < 3_000, 'the caller is not held past the deadline');
    await waitFor(async () => (processesRunning(marker) === 0 ? true : undefined), {
      what: `no "${marker}" left on the host`,
      timeoutMs: 5_000,
    });
  });

  test('caps output and says so', async () => {
    const result = await runner.exec(target, 'head -c 300000 /dev/zero | tr "\\0" x', { maxOutputBytes: 1000 });
    assert.equal(result.code, 0);
    assert.equal(result.stdout.length, 1000);
    assert.equal(result.truncated, true);
  });

  test('uploads a file with the mode asked for', async () => {
    await runner.upload(target, '/tmp/check.sh', '#!/bin/sh\necho checked\n', { mode: 0o755 });
    const result = await runner.exec(target, '/tmp/check.sh && stat -c %a /tmp/check.sh');
    assert.equal(result.stdout, 'checked\n755\n');
  });

  test('an address where nobody listens fails fast with the address', async () => {
    await assert.rejects(
      runner.exec({ ...target, host: '127.0.0.1', port: 1 }, 'true'),
      /SSH to 127\.0\.0\.1:1 failed/,
    );
  });

  test('onConnect hears of each connection opened, not of commands that reuse one, and of failures', async () => {
    // Given a runner that reports its connections
    const events: SshConnectEvent[] = [];
    const observed = createSshRunner({ connectTimeoutMs: 5_000, onConnect: (event) => events.push(event) });
    // When three commands run back to back, and one goes where nobody listens
    for (let i = 0; i < 3; i++) await observed.exec(target, 'true');
    await assert.rejects(observed.exec({ ...target, host: '127.0.0.1', port: 1 }, 'true'));
    observed.close();
    // Then one handshake served the three commands, and the refused one is reported as failed
    assert.deepEqual(
      events.map(({ host, port, username, ok }) => ({ host, port, username, ok })),
      [
        { host: target.host, port: 22, username: 'breakfix', ok: true },
        { host: '127.0.0.1', port: 1, username: 'breakfix', ok: false },
      ],
    );
    for (const event of events) assert.ok(event.ms >= 0 && event.startedAt > 0);
  });

  test('a server that accepts and hangs up before the handshake is a failed attempt, not a crash', async () => {
    // Given what a guest's forwarded port does while its sshd is still starting: accept, say
    // nothing for a while (past the handshake deadline), then close
    const quick = createSshRunner({ connectTimeoutMs: 300 });
    const server = createServer((socket) => setTimeout(() => socket.destroy(), 600));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      // Then each attempt rejects with the address (and no 'error' event escapes to the process)
      for (let attempt = 0; attempt < 5; attempt++) {
        await assert.rejects(quick.exec({ ...target, host: '127.0.0.1', port }, 'true'), (error: Error) => {
          assert.ok(error instanceof UpstreamError || error instanceof DeadlineExceededError, String(error));
          assert.match(error.message, new RegExp(`SSH to 127\\.0\\.0\\.1:${port} `));
          return true;
        });
      }
      // and the hang-ups that follow the deadline are absorbed too
      await new Promise((resolve) => server.getConnections(() => setTimeout(resolve, 800)));
    } finally {
      server.close();
    }
  });
});

describe('SSH runner against an sshd that allows fewer sessions per connection', () => {
  test('commands sshd refuses a channel for run on another connection', async () => {
    // Given a real OpenSSH sshd with MaxSessions 2 (ours share up to 8 per connection)
    const dir = mkdtempSync(join(tmpdir(), 'bf-sshd-'));
    const host = keyPair('host');
    const client = keyPair('client');
    const port = await freePort();
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
        'MaxSessions 2',
        '',
      ].join('\n'),
    );
    const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: 'ignore' });
    const small = createSshRunner({ connectTimeoutMs: 5_000 });
    try {
      const target: SshTarget = {
        host: '127.0.0.1',
        port,
        username: 'root',
        privateKey: client.private,
        hostKey: host.public,
      };
      await waitFor(async () => ((await small.exec(target, 'true').catch(() => undefined)) ? true : undefined), {
        what: `sshd on 127.0.0.1:${port}`,
        timeoutMs: 10_000,
        intervalMs: 100,
      });
      // When eight commands run at once
      const results = await Promise.all(
        Array.from({ length: 8 }, () => small.exec(target, 'echo "$SSH_CONNECTION"; sleep 0.5')),
      );
      // Then all of them ran, on at least four connections of at most two sessions each
      assert.deepEqual(
        results.map((r) => r.code),
        Array(8).fill(0),
      );
      const connections = new Map<string, number>();
      for (const r of results) connections.set(r.stdout, (connections.get(r.stdout) ?? 0) + 1);
      assert.ok(connections.size >= 4, `${connections.size} connections`);
    } finally {
      small.close();
      sshd.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Processes on this host whose command line is exactly `command` (the guest runs on this host). */
function processesRunning(command: string): number {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() === command;
      } catch {
        return false;
      }
    }).length;
}
