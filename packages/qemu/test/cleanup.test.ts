import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@breakfix/core';
import { spawnManaged } from '../src/index.js';
import { alive, processesIn, tempDir, waitGone } from './helpers.js';

const fixture = fileURLToPath(new URL('fixtures/hold-host.ts', import.meta.url));

interface Held {
  holder: number;
  netns: string;
  qemu: number;
  overlayDir: string;
}

test('a host killed with SIGKILL leaves no qemu, dnsmasq, socat or namespace behind', {
  timeout: 120_000,
}, async () => {
  // Given a process of its own holding a lab network with a running QEMU guest exposed on loopback
  const dir = tempDir('cleanup');
  const logFile = join(dir, 'child.log');
  const child = spawnManaged('hold-host', process.execPath, ['--import', 'tsx', fixture, dir], { logFile });
  try {
    const held = await waitFor(
      async () => {
        if (!alive(child.pid)) throw new Error(`the child died: ${readFileSync(logFile, 'utf8')}`);
        const line = readFileSync(logFile, 'utf8')
          .split('\n')
          .find((candidate) => candidate.startsWith('{'));
        return line ? (JSON.parse(line) as Held) : undefined;
      },
      { what: 'the child to report its host', timeoutMs: 60_000, intervalMs: 100 },
    );
    const inside = processesIn(held.netns);
    const commands = inside.map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]);
    assert.ok(inside.includes(held.holder) && inside.includes(held.qemu));
    assert.ok(commands.includes('/usr/bin/qemu-system-x86_64'), `qemu in the namespace: ${commands.join(', ')}`);
    assert.ok(commands.includes('/usr/sbin/dnsmasq'), 'dnsmasq in the namespace');
    // An open connection through the loopback exposure: its socat carrier runs in the namespace too.
    const exposed = createConnection({ host: '127.250.9.9', port: 22 });
    exposed.on('error', () => {});
    await new Promise((resolve, reject) => exposed.once('connect', resolve).once('error', reject));

    // When the child is killed without a chance to clean up
    process.kill(child.pid, 'SIGKILL');

    // Then the kernel takes every helper with it, and with the last of them the namespace
    await waitGone([child.pid, ...inside, ...processesIn(held.netns)]);
    exposed.destroy();
    assert.deepEqual(processesIn(held.netns), [], 'nothing is left in the namespace, so it is gone');
    // And nothing listens on the exposure any more
    const refused = () =>
      new Promise<boolean>((resolve) => {
        const probe = createConnection({ host: '127.250.9.9', port: 22 });
        probe.once('connect', () => {
          probe.destroy();
          resolve(false);
        });
        probe.once('error', () => resolve(true));
      });
    await waitFor(async () => ((await refused()) ? true : undefined), {
      what: 'the loopback exposure to close',
      timeoutMs: 10_000,
      intervalMs: 200,
    });
  } finally {
    // A timer keeps the loop alive while stop() waits for the (unref'd) child's exit.
    const keepAlive = setInterval(() => {}, 1_000);
    await child.stop(0).finally(() => clearInterval(keepAlive));
    rmSync(dir, { recursive: true, force: true });
  }
});
