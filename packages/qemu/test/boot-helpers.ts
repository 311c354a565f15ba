// Booting the golden node image to an SSH login, for the boot tests and the boot benchmark.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor } from '@breakfix/core';
import type { BootOptions, GuestImage, LabNetwork, QemuHost } from '../src/index.js';

const execFileAsync = promisify(execFile);

/**
 * The node image `images/build.sh --print-dir` names (disk.raw, vmlinuz, initrd.img, cmdline,
 * manifest.json), or the folder named by BREAKFIX_NODE_IMAGE.
 */
export function findNodeImage(): GuestImage & { dir: string } {
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

/**
 * Boots a guest that lets `tester` in with a fresh key and serves a pinned host key, then logs in
 * over SSH until it answers. Returns what the guest says and the time from QEMU start to login.
 * The guest is stopped before it returns.
 */
export async function bootToSsh(
  where: { host: QemuHost; lab: LabNetwork; dir: string },
  name: string,
  address: string,
  boot: Pick<BootOptions, 'image' | 'firmware'>,
) {
  const { host, lab, dir } = where;
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
