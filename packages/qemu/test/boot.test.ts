// Boots the real golden node image under QEMU on a lab network: its kernel and initramfs (tens of
// seconds under TCG), then the whole disk through UEFI firmware to an SSH login, as KubeVirt boots
// the containerDisk (minutes under TCG). No image: it fails and says how to build one (npm test
// builds it first). The full boot of a rendered lab through the sandbox is tests/real-labs/; the
// kubeadm cluster is `npm run e2e`.
//
// How long each way takes is a benchmark: `BREAKFIX_BENCH_ONLY=boot npm run bench`.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { createQemuHost, type GuestImage, type LabNetwork, type QemuHost } from '../src/index.js';
import { bootToSsh, findNodeImage } from './boot-helpers.js';
import { tempDir } from './helpers.js';

const NS = 'lab-boot';
const SEARCH = [`${NS}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'];

describe('the node image boots under QEMU', () => {
  let dir: string;
  let host: QemuHost;
  let lab: LabNetwork;
  let image: GuestImage & { dir: string };

  before(async () => {
    image = findNodeImage();
    dir = tempDir('boot');
    host = await createQemuHost({ dir: join(dir, 'host'), log: (line) => console.log(line) });
    lab = await host.network(NS, { searchDomains: SEARCH, mtu: 1450 });
  });
  after(async () => {
    await host?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('through UEFI firmware (OVMF) from its EFI system partition to an SSH login', {
    timeout: 30 * 60_000,
  }, async () => {
    // Given the containerDisk's own qcow2, no kernel: what KubeVirt's `efi` bootloader boots
    const booted = await bootToSsh({ host, lab, dir }, 'efi', '127.250.20.3', {
      image: { disk: join(image.dir, 'disk.qcow2') },
      firmware: 'efi',
    });
    // Then the firmware ran systemd's stub (it leaves StubInfo), whose baked-in command line the
    // kernel got, and cloud-init named the guest and let the login in
    assert.ok(
      booted.efivars.some((name) => name.startsWith('StubInfo-')),
      `booted by systemd-stub; EFI variables: ${booted.efivars.join(' ')}`,
    );
    assert.equal(booted.cmdline, image.cmdline);
    assert.equal(booted.hostname, 'efi');
  });

  test('with Secure Boot (KubeVirt’s default under efi) the firmware refuses its unsigned UKI', {
    timeout: 10 * 60_000,
  }, async () => {
    const vm = await host.boot({
      network: lab,
      name: 'secure-boot',
      image: { disk: join(image.dir, 'disk.qcow2') },
      firmware: 'efi-secure-boot',
      cpus: 1,
      memoryMiB: 1024,
      seed: { userData: '#cloud-config\n', metaData: 'instance-id: secure-boot\n' },
      expose: { address: '127.250.20.5', ports: [] },
    });
    try {
      // OVMF says so on the serial console: the boot option of the disk is denied
      await waitFor(
        async () =>
          /failed to load Boot\d+ .*: Access Denied/.test(readFileSync(vm.consoleLog, 'utf8')) ? true : undefined,
        { what: 'OVMF to refuse the unsigned UKI', timeoutMs: 8 * 60_000, intervalMs: 1_000 },
      );
      assert.doesNotMatch(readFileSync(vm.consoleLog, 'utf8'), /Linux version/);
    } finally {
      await vm.stop();
    }
  });

  test('its kernel and initramfs come up and lease an address over virtio-net', { timeout: 5 * 60_000 }, async () => {
    // Given the image's own kernel with initramfs-tools' network boot (ip=dhcp), and no root to find
    const started = Date.now();
    const vm = await host.boot({
      network: lab,
      name: 'initramfs',
      image: { ...image, cmdline: 'console=ttyS0 net.ifnames=0 boot=nfs nfsroot=10.200.0.1:/none ip=:::::eth0:dhcp' },
      cpus: 1,
      memoryMiB: 1024,
      seed: { userData: '#cloud-config\n', metaData: 'instance-id: initramfs\n' },
      expose: { address: '127.250.20.2', ports: [] },
    });
    try {
      // Then its DHCP client gets the planned address and the lab's options
      assert.equal(await vm.address(4 * 60_000), vm.plannedAddress);
      console.log(`initramfs DHCP lease after ${Date.now() - started} ms`);
      await waitFor(
        async () => (readFileSync(vm.consoleLog, 'utf8').includes(`domain : ${SEARCH[0]}`) ? true : undefined),
        {
          what: 'the initramfs to print its IP-Config',
          timeoutMs: 60_000,
          intervalMs: 500,
        },
      );
    } finally {
      await vm.stop();
    }
  });
});
