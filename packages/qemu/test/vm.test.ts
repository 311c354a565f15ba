import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { exposePort } from '../src/expose.js';
import { createQemuHost, type LabNetwork, type QemuHost } from '../src/index.js';
import { alive, BUSYBOX, plugClient, tempDir } from './helpers.js';

describe('QEMU guests on a lab network (firmware only, no image needed)', { timeout: 180_000 }, () => {
  let dir: string;
  let host: QemuHost;
  let lab: LabNetwork;
  let blank: string;

  before(async () => {
    dir = tempDir('vm');
    blank = join(dir, 'blank.raw');
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', blank, '16M']);
    host = await createQemuHost({ dir: join(dir, 'host'), accel: 'tcg' });
    lab = await host.network('lab-1', { searchDomains: ['lab-1.svc.cluster.local'] });
  });
  after(async () => {
    await host?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a guest leases its address over its tap, and stop removes what it made', async () => {
    // Given a guest whose disk has nothing to boot: its firmware (iPXE) still asks DHCP
    const golden = statSync(blank).mtimeMs;
    const started = Date.now();
    const vm = await host.boot({
      network: lab,
      name: 'pxe',
      image: { disk: blank },
      cpus: 1,
      memoryMiB: 128,
      seed: { userData: '#cloud-config\n', metaData: 'instance-id: pxe\n' },
      expose: { address: '127.250.1.2', ports: [22] },
      mac: '52:54:00:00:10:01',
    });
    assert.equal(vm.mac, '52:54:00:00:10:01');
    assert.equal(vm.plannedAddress, '10.200.0.2');
    assert.ok(existsSync(join(host.dir, 'vm', 'pxe', 'disk.qcow2')), 'a copy-on-write overlay');
    assert.match(await lab.namespace.run('ip', ['-o', 'link', 'show', 'master', lab.bridge]), /tap\d+/);

    // When its firmware asks for an address
    const address = await vm.address(120_000);
    console.log(`QEMU start to DHCP lease (iPXE, TCG): ${Date.now() - started} ms`);

    // Then it gets the planned one; and stopping it removes the process, tap, lease and overlay
    assert.equal(address, vm.plannedAddress);
    await vm.stop();
    assert.equal(await vm.exited, 0, 'QEMU exits cleanly on SIGTERM');
    assert.equal(alive(vm.pid), false);
    assert.doesNotMatch(await lab.namespace.run('ip', ['-o', 'link', 'show', 'master', lab.bridge]), /tap\d+/);
    assert.equal(existsSync(join(host.dir, 'vm', 'pxe')), false);
    assert.equal(statSync(blank).mtimeMs, golden, 'the golden image is never written');
    assert.ok(readdirSync(join(host.dir, 'log')).includes('pxe.console.log'), 'the console log is kept');
  });

  test('a guest port is reachable on a loopback address, carried from inside the namespace', async () => {
    // Given a "guest" with an echo service on port 2222
    const mac = '52:54:00:00:10:02';
    lab.addHost('echo', mac);
    const guest = await plugClient(lab, 'echo', mac, dir);
    const { ip } = await guest.dhcp();
    const echo = guest.namespace.spawn(
      'echo',
      BUSYBOX,
      ['nc', '-ll', '-p', '2222', '-e', '/bin/cat'],
      join(dir, 'echo.log'),
    );
    // nc listens a moment after it is spawned: a carrier that connects first is refused
    await waitFor(
      async () => ((await guest.namespace.run('ss', ['-Htln', 'sport = :2222'])).includes(':2222') ? true : undefined),
      { what: 'the echo service listening on port 2222', timeoutMs: 30_000, intervalMs: 100 },
    );
    const exposure = await exposePort({
      namespace: lab.namespace,
      logFile: join(dir, 'expose.log'),
      guest: ip,
      address: '127.250.1.3',
      port: 2222,
    });
    try {
      // When a client in the root namespace talks to the loopback address (twice: one carrier each)
      for (const word of ['hello', 'again']) {
        const reply = await new Promise<string>((resolve, reject) => {
          const socket = createConnection({ host: '127.250.1.3', port: 2222 });
          let received = '';
          socket.setTimeout(10_000, () => socket.destroy(new Error('no echo within 10 s')));
          socket.on('error', reject);
          // A carrier that could not reach the guest closes the client without a word
          socket.on('close', () =>
            reject(new Error(`connection closed before the echo (got ${JSON.stringify(received)})`)),
          );
          socket.on('data', (chunk) => {
            received += chunk.toString();
            if (received.includes('\n')) {
              socket.end();
              resolve(received);
            }
          });
          socket.write(`${word}\n`);
        });
        // Then the guest answers
        assert.equal(reply, `${word}\n`);
      }
      // And only loopback addresses may be used
      await assert.rejects(
        exposePort({ namespace: lab.namespace, logFile: join(dir, 'x.log'), guest: ip, address: '10.0.0.5', port: 22 }),
        /not a loopback address/,
      );
    } finally {
      await exposure.close();
      await echo.stop(0);
      await guest.stop();
    }
  });
});
