import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { createQemuHost, type LabNetwork, type QemuHost } from '../src/index.js';
import { BUSYBOX, plugClient, tempDir } from './helpers.js';

const SEARCH = ['lab-1.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];

describe('a lab network without a VM', { timeout: 120_000 }, () => {
  let dir: string;
  let host: QemuHost;
  let labA: LabNetwork;
  let labB: LabNetwork;

  before(async () => {
    dir = tempDir('net');
    host = await createQemuHost({ dir, accel: 'tcg' });
    labA = await host.network('lab-1', { searchDomains: SEARCH, mtu: 1400 });
    labB = await host.network('lab-2', { searchDomains: ['lab-2.svc.cluster.local'] });
  });
  after(async () => {
    await host?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('DHCP hands the registered MAC its static address, router, DNS, MTU and search domains', async () => {
    // Given a host registered on lab 1
    const mac = '52:54:00:12:34:56';
    const address = labA.addHost('cp', mac);
    assert.equal(address, '10.200.0.2');
    assert.equal(labA.addHost('cp', mac), address, 'the same MAC keeps its address');
    const client = await plugClient(labA, 'cp', mac, dir);
    try {
      // When it asks DHCP
      const started = Date.now();
      const answer = await client.dhcp();
      const leased = await labA.leased(mac, 10_000);
      console.log(`DHCP answer in ${Date.now() - started} ms (busybox udhcpc)`);

      // Then it gets what KubeVirt's DHCP server would give a VMI on that network
      assert.equal(answer.ip, address);
      assert.equal(answer.subnet, '255.255.255.0');
      assert.equal(answer.router, '10.200.0.1');
      assert.equal(answer.dns, '10.200.0.1');
      assert.equal(answer.mtu, '1400');
      assert.equal(answer.search, SEARCH.join(' '));
      assert.equal(answer.domain, SEARCH[0]);
      assert.equal(answer.hostname, 'cp');
      assert.equal(leased, address, 'leased() resolves once dnsmasq handed the address out');
    } finally {
      await client.stop();
    }
  });

  test('an unregistered MAC gets no address', async () => {
    const client = await plugClient(labA, 'stranger', '52:54:00:99:99:99', dir);
    try {
      await assert.rejects(client.dhcp());
    } finally {
      await client.stop();
    }
  });

  test("the lab's DNS answers its records and nothing else", async () => {
    // Given a guest with an address and the control-plane record
    const mac = '52:54:00:12:34:57';
    const address = labA.addHost('w1', mac);
    labA.setDnsRecord('cp-api.lab-1.svc.cluster.local', address);
    const client = await plugClient(labA, 'w1', mac, dir);
    try {
      await client.dhcp();
      const lookup = (name: string) => client.namespace.run(BUSYBOX, ['nslookup', name, labA.gateway], 10_000);

      // Then the record resolves, and changes when set again
      assert.match(
        await lookup('cp-api.lab-1.svc.cluster.local'),
        new RegExp(`Address: ${address.replaceAll('.', '\\.')}`),
      );
      labA.setDnsRecord('cp-api.lab-1.svc.cluster.local', '10.200.0.77');
      assert.match(await lookup('cp-api.lab-1.svc.cluster.local'), /Address: 10\.200\.0\.77/);

      // And names outside the lab do not: there is no upstream
      await assert.rejects(lookup('example.com'));
      await assert.rejects(lookup('kubernetes.default.svc.cluster.local'));
    } finally {
      await client.stop();
    }
  });

  test('the namespace has no route out and two labs cannot reach each other', async () => {
    // The lab's namespace knows its own /24 and nothing else, and does not forward
    assert.equal((await labA.namespace.run('ip', ['route', 'show', 'default'])).trim(), '');
    await assert.rejects(labA.namespace.run('ip', ['route', 'get', '1.1.1.1']), /unreachable/i);
    await assert.rejects(labA.namespace.run('ip', ['route', 'get', '10.200.1.1']), /unreachable/i);
    assert.equal((await labA.namespace.run('cat', ['/proc/sys/net/ipv4/ip_forward'])).trim(), '0');
    assert.notEqual(labA.namespace.path, labB.namespace.path);

    // Given a guest on each lab
    const a = await plugClient(labA, 'ga', '52:54:00:aa:00:01', dir);
    const b = await plugClient(labB, 'gb', '52:54:00:bb:00:01', dir);
    try {
      labA.addHost('ga', '52:54:00:aa:00:01');
      const addressB = labB.addHost('gb', '52:54:00:bb:00:01');
      await a.dhcp();
      await b.dhcp();
      const ping = (client: typeof a, target: string) =>
        client.succeeds(BUSYBOX, ['ping', '-c', '1', '-W', '2', target]);

      // Each reaches its own gateway
      assert.equal(await ping(a, labA.gateway), true);
      assert.equal(await ping(b, labB.gateway), true);
      // Neither reaches the other lab: not its guest, not its gateway, not its DNS
      assert.equal(await ping(a, addressB), false);
      assert.equal(await ping(a, labB.gateway), false);
      assert.equal(await a.succeeds(BUSYBOX, ['nslookup', 'cp-api.lab-2.svc.cluster.local', labB.gateway]), false);
      // Nor anything beyond
      assert.equal(await ping(a, '1.1.1.1'), false);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
