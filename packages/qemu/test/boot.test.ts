// Boots the real golden node image under QEMU on a lab network: its kernel and initramfs (tens of
// seconds under TCG), then the whole disk through UEFI firmware to an SSH login, as KubeVirt boots
// the containerDisk (minutes under TCG). No image: it fails and says how to build one (npm test
// builds it first). The full boot of a rendered lab through the sandbox is tests/real-labs/; the
// kubeadm cluster is `npm run e2e`.
//
//   BREAKFIX_BOOT_COMPARE=1   also boots the image's kernel directly to SSH, for the time to compare
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor } from '@breakfix/core';
import { type BootOptions, createQemuHost, type GuestImage, type LabNetwork, type QemuHost } from '../src/index.js';
import { tempDir } from './helpers.js';

const execFileAsync = promisify(execFile);

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
  const files = ['disk.raw', 'disk.qcow2', 'vmlinuz', 'initrd.img', 'manifest.json'];
  if (!files.every((file) => existsSync(join(dir, file)))) {
    assert.fail(
      `no node image in ${dir} (${files.join(', ')}): build it with \`bash images/build.sh\` ` +
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

  /**
   * Boots a guest that lets `tester` in with a fresh key and serves a pinned host key, then logs in
   * over SSH until it answers. Returns what the guest says and the time from QEMU start to login.
   */
  async function bootToSsh(name: string, address: string, boot: Pick<BootOptions, 'image' | 'firmware'>) {
    const keys = join(dir, name);
    mkdirSync(keys, { recursive: true });
    for (const key of ['client', 'host']) {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}-${key}`, '-f', join(keys, key)]);
    }
    const read = (file: string) => readFileSync(join(keys, file), 'utf8').trim();
    const indent = (text: string) => text.replaceAll('\n', '\n    ');
    const userData = [
      '#cloud-config',
      'ssh_deletekeys: true',
      'ssh_genkeytypes: [ed25519]',
      'ssh_keys:',
      `  ed25519_private: |\n    ${indent(read('host'))}`,
      `  ed25519_public: ${read('host.pub')}`,
      'users:',
      '  - name: tester',
      '    lock_passwd: true',
      `    ssh_authorized_keys: ["${read('client.pub')}"]`,
      '',
    ].join('\n');
    const knownHosts = join(keys, 'known_hosts');
    writeFileSync(knownHosts, `${address} ${read('host.pub').split(' ').slice(0, 2).join(' ')}\n`);

    const started = Date.now();
    const vm = await host.boot({
      network: lab,
      name,
      ...boot,
      cpus: 2,
      memoryMiB: 2048,
      seed: { userData, metaData: `instance-id: ${name}\nlocal-hostname: ${name}\n` },
      expose: { address, ports: [22] },
    });
    try {
      const facts = await waitFor(
        async () => {
          const { stdout } = await execFileAsync(
            'ssh',
            [
              ...[
                '-i',
                join(keys, 'client'),
                '-o',
                `UserKnownHostsFile=${knownHosts}`,
                '-o',
                'StrictHostKeyChecking=yes',
              ],
              ...['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=60', `tester@${address}`],
              'echo "cmdline=$(cat /proc/cmdline)"; echo "hostname=$(hostname)";' +
                ' ls /sys/firmware/efi/efivars 2>/dev/null | sed "s/^/efivar=/"',
            ],
            { timeout: 120_000 },
          );
          return stdout;
        },
        { what: `an SSH login to ${name}`, timeoutMs: 25 * 60_000, intervalMs: 5_000 },
      );
      const seconds = (Date.now() - started) / 1000;
      console.log(`${name}: QEMU start to SSH login ${seconds.toFixed(1)} s (${host.accelerator})`);
      const lines = facts.trim().split('\n');
      const value = (key: string) => lines.find((line) => line.startsWith(`${key}=`))?.slice(key.length + 1);
      const efivars = lines.filter((line) => line.startsWith('efivar=')).map((line) => line.slice(7));
      return { seconds, cmdline: value('cmdline'), hostname: value('hostname'), efivars, consoleLog: vm.consoleLog };
    } finally {
      await vm.stop();
    }
  }

  test('through UEFI firmware (OVMF) from its EFI system partition to an SSH login', {
    timeout: 30 * 60_000,
  }, async () => {
    // Given the containerDisk's own qcow2, no kernel: what KubeVirt's `efi` bootloader boots
    const booted = await bootToSsh('efi', '127.250.20.3', {
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

  test('directly with its kernel to an SSH login, for comparison', {
    timeout: 30 * 60_000,
    skip: process.env.BREAKFIX_BOOT_COMPARE === '1' ? false : 'set BREAKFIX_BOOT_COMPARE=1 to time it',
  }, async () => {
    const booted = await bootToSsh('direct', '127.250.20.4', {
      image: { ...image, disk: join(image.dir, 'disk.qcow2') },
    });
    assert.deepEqual(booted.efivars, [], 'SeaBIOS: no EFI');
    assert.equal(booted.hostname, 'direct');
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
