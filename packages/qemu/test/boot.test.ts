// Boots the real golden node image's kernel under QEMU on a lab network (tens of seconds under TCG).
// No image: it fails and says how to build one (npm test builds it first). The full boot of a
// rendered lab through the sandbox is tests/real-labs/; the kubeadm cluster is `npm run e2e`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@breakfix/core';
import { createQemuHost, type GuestImage, type LabNetwork, type QemuHost } from '../src/index.js';
import { tempDir } from './helpers.js';

const NS = 'lab-boot';
const SEARCH = [`${NS}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'];

/**
 * The node image `images/build.sh --print-dir` names (disk.raw, vmlinuz, initrd.img, cmdline,
 * manifest.json), or the folder named by BREAKFIX_NODE_IMAGE.
 */
function findNodeImage(): GuestImage & { dir: string } {
  const script = fileURLToPath(new URL('../../../images/build.sh', import.meta.url));
  const dir =
    process.env.BREAKFIX_NODE_IMAGE ??
    execFileSync('bash', [script, '--print-dir'], { encoding: 'utf8' }).trim().split('\n').at(-1) ??
    '';
  const complete = ['disk.raw', 'vmlinuz', 'initrd.img', 'manifest.json'].every((file) => existsSync(join(dir, file)));
  if (!complete) {
    assert.fail(
      `no node image in ${dir} (disk.raw, vmlinuz, initrd.img, manifest.json): build it with \`bash images/build.sh\` ` +
        '(npm test does), or point BREAKFIX_NODE_IMAGE at one',
    );
  }
  const cmdlineFile = join(dir, 'cmdline');
  return {
    dir,
    disk: join(dir, 'disk.raw'),
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
    cmdline: existsSync(cmdlineFile) ? readFileSync(cmdlineFile, 'utf8').trim() : 'root=LABEL=root ro console=ttyS0',
  };
}

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
