// Boots the real golden node image under QEMU. Slow (2-4 min under TCG on a quiet host), so it runs
// only when asked: BREAKFIX_QEMU_BOOT_TEST=1. Asked for and no image: it fails and says how to build one.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { waitFor } from '@breakfix/core';
import { createQemuHost, type GuestImage, type LabNetwork, type QemuHost } from '../src/index.js';
import { tempDir } from './helpers.js';

const execFileAsync = promisify(execFile);
const enabled = process.env.BREAKFIX_QEMU_BOOT_TEST === '1';
const NS = 'lab-boot';
const SEARCH = [`${NS}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'];
const CP_API = `cp-api.${NS}.svc.cluster.local`;

/**
 * The node image images/build.sh makes: a folder under ${BREAKFIX_CACHE_DIR:-~/.cache/breakfix}/images/
 * with disk.raw, vmlinuz, initrd.img, cmdline and manifest.json (the newest such folder), or the
 * folder named by BREAKFIX_NODE_IMAGE.
 */
function findNodeImage(): GuestImage & { dir: string } {
  const cache =
    process.env.BREAKFIX_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'breakfix');
  const root = join(cache, 'images');
  const complete = (dir: string) =>
    ['disk.raw', 'vmlinuz', 'initrd.img', 'manifest.json'].every((file) => existsSync(join(dir, file)));
  const named = process.env.BREAKFIX_NODE_IMAGE;
  const candidates = named
    ? [named]
    : existsSync(root)
      ? readdirSync(root)
          .map((entry) => join(root, entry))
          .filter(complete)
          .sort((a, b) => statSync(join(b, 'manifest.json')).mtimeMs - statSync(join(a, 'manifest.json')).mtimeMs)
      : [];
  const dir = candidates[0];
  if (!dir || !complete(dir)) {
    assert.fail(
      `no node image ${named ? `in ${named}` : `under ${root}`} (disk.raw, vmlinuz, initrd.img, manifest.json): ` +
        'build one with `images/build.sh` (its last line is the folder), or point BREAKFIX_NODE_IMAGE at one',
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

function keyPair(dir: string, name: string) {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  return { file, privateKey: readFileSync(file, 'utf8'), publicKey: readFileSync(`${file}.pub`, 'utf8').trim() };
}

describe('the node image boots under QEMU', { skip: enabled ? false : 'set BREAKFIX_QEMU_BOOT_TEST=1' }, () => {
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

  test('a VM with a NoCloud seed is reachable over SSH on loopback and resolves cp-api', {
    timeout: 15 * 60_000,
  }, async () => {
    // Given a control-plane VM seeded like KubeVirt's cloudInitNoCloud, with pinned host key and a user key
    const user = keyPair(dir, 'user_ed25519');
    const hostKey = keyPair(dir, 'ssh_host_ed25519_key');
    const userData = [
      '#cloud-config',
      'hostname: cp',
      'ssh_keys:',
      '  ed25519_private: |',
      ...hostKey.privateKey
        .trim()
        .split('\n')
        .map((line) => `    ${line}`),
      `  ed25519_public: ${hostKey.publicKey}`,
      'users:',
      '  - name: breakfix',
      '    shell: /bin/bash',
      '    sudo: ALL=(ALL) NOPASSWD:ALL',
      '    ssh_authorized_keys:',
      `      - ${user.publicKey}`,
      '',
    ].join('\n');
    const mac = '52:54:00:20:00:01';
    const address = lab.addHost('cp', mac);
    lab.setDnsRecord(CP_API, address); // no ClusterIPs here: cp-api is the control plane's own address
    const expose = '127.250.20.1';
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, `${expose} ${hostKey.publicKey.split(' ').slice(0, 2).join(' ')}\n`);
    const ssh = (command: string, timeoutMs = 60_000) =>
      execFileAsync(
        'ssh',
        [
          '-i',
          user.file,
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          `UserKnownHostsFile=${knownHosts}`,
          '-o',
          'BatchMode=yes',
          '-o',
          'ConnectTimeout=20',
          `breakfix@${expose}`,
          command,
        ],
        { timeout: timeoutMs },
      ).then(({ stdout }) => stdout);

    // When it boots
    const started = Date.now();
    const vm = await host.boot({
      network: lab,
      name: 'cp',
      image,
      cpus: 2,
      memoryMiB: 2048,
      mac,
      seed: { userData, metaData: `instance-id: cp-${Date.now()}\nlocal-hostname: cp\n` },
      expose: { address: expose, ports: [22] },
    });
    try {
      assert.equal(await vm.address(10 * 60_000), address);
      console.log(`DHCP lease after ${Date.now() - started} ms`);
      const name = await waitFor(() => ssh('hostname', 30_000).catch(() => undefined), {
        what: `SSH to ${vm.name} on ${expose} (console: ${vm.consoleLog})`,
        timeoutMs: 12 * 60_000,
        intervalMs: 5_000,
      });
      console.log(`SSH after ${Date.now() - started} ms`);
      // cloud-init may still restart sshd: wait for it to finish, reconnecting as needed.
      const status = await waitFor(
        () => ssh('cloud-init status --wait --long; true', 5 * 60_000).catch(() => undefined),
        {
          what: `cloud-init to finish on ${vm.name}`,
          timeoutMs: 8 * 60_000,
          intervalMs: 5_000,
        },
      );
      console.log(`cloud-init finished after ${Date.now() - started} ms:\n${status}`);

      // Then it is the VM we seeded, its resolver has the lab's search domains, and cp-api resolves
      assert.equal(name.trim(), 'cp');
      const resolver = await ssh('resolvectl status || cat /etc/resolv.conf');
      console.log(resolver);
      assert.match(resolver, new RegExp(SEARCH[0]?.replaceAll('.', '\\.') ?? ''));
      assert.match(await ssh(`getent hosts ${CP_API}`), new RegExp(`^${address.replaceAll('.', '\\.')}\\s+${CP_API}`));
      assert.match(
        await ssh('getent hosts cp-api'),
        new RegExp(address.replaceAll('.', '\\.')),
        'via the search domains',
      );
      assert.match(status, /status: done/, 'cloud-init ran without errors');
    } finally {
      await vm.stop();
    }
  });
});
