import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { UnsupportedEnvironmentError, waitFor } from '@breakfix/core';
import type { ManagedProcess } from '@breakfix/qemu';
import { spawnManaged } from '@breakfix/qemu';
import type { GuestIdentity } from './cloud-config.js';

export const BUSYBOX = '/bin/busybox';
export const SSHD = '/usr/sbin/sshd';
export const UNSHARE = '/usr/bin/unshare';

export interface GuestOptions {
  /** Directory of this guest: its root file system, host keys, sshd config and log. */
  dir: string;
  /** Loopback address the guest's sshd listens on (its "pod IP"). */
  address: string;
  port: number;
  identity: GuestIdentity;
  hostname: string;
}

export interface Guest {
  address: string;
  port: number;
  root: string;
  sshd: ManagedProcess;
  /** Resolves once sshd accepts connections. */
  listening(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Boots a simulated guest: a fresh root file system (a containerDisk is ephemeral, so every boot
 * starts from scratch) with busybox, the users from cloud-init and their authorized keys, served by
 * a real OpenSSH sshd that presents the guest's host key and chroots every session into that root.
 *
 * Sessions run as an unprivileged host account of the same name, so a script in one guest cannot
 * touch the host or another guest's files. `sudo` inside a guest is a shim that runs the command as
 * the same user: the simulator proves our control plane, not what root on a real node can do.
 */
export function bootGuest(options: GuestOptions): Guest {
  const { dir, identity } = options;
  if (identity.hostKeys.length === 0) {
    throw new UnsupportedEnvironmentError(`guest ${options.hostname} has no SSH host key in its user-data`, {
      hint: 'render ssh_keys.ed25519_private into the cloud-init Secret',
    });
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const root = join(dir, 'root');
  buildRoot(root, options);

  const hostKeyFiles = identity.hostKeys.map((key) => {
    const file = join(dir, `ssh_host_${key.type}_key`);
    writeFileSync(file, key.privateKey.endsWith('\n') ? key.privateKey : `${key.privateKey}\n`, { mode: 0o600 });
    return file;
  });
  const config = join(dir, 'sshd_config');
  const rootKeys = rootOwnedKeyFile(root, identity.files);
  writeFileSync(
    config,
    [
      `ListenAddress ${options.address}:${options.port}`,
      ...hostKeyFiles.map((file) => `HostKey ${file}`),
      `PidFile ${join(dir, 'sshd.pid')}`,
      // Keys live inside the guest's root, where cloud-init (and later our learner-key step) put them.
      `AuthorizedKeysFile ${root}/home/%u/.ssh/authorized_keys`,
      // The guest's own sshd would also read the root-owned key files its sshd_config.d names;
      // this sshd reads them through a command, as the sessions' root-less sudo writes them.
      ...(rootKeys === undefined
        ? []
        : [`AuthorizedKeysCommand /usr/bin/cat ${rootKeys}`, 'AuthorizedKeysCommandUser nobody']),
      `ChrootDirectory ${root}`,
      `AllowUsers ${identity.users.map((u) => u.name).join(' ')}`,
      'PermitRootLogin no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes yes',
      'X11Forwarding no',
      'AllowTcpForwarding no',
      'PermitTunnel no',
      'PrintMotd no',
      'Subsystem sftp internal-sftp',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  // The guest's own process table and terminals, as on a VM: sshd runs as PID 1 of a PID namespace
  // whose /proc is mounted in the guest root, and allocates terminals from a devpts instance of its
  // own (also mounted there), so `ps`-like probes and `stat /dev/pts/N` inside a guest see that
  // guest's sessions only. The mounts live in the namespace and go with it.
  const sshd = spawnManaged(
    'sshd',
    UNSHARE,
    [
      '--pid',
      '--fork',
      '--kill-child',
      `--mount-proc=${join(root, 'proc')}`,
      '/bin/sh',
      '-c',
      'mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts && mount --bind /dev/pts "$1/dev/pts" && shift && exec "$@"',
      'guest',
      root,
      SSHD,
      '-D',
      '-e',
      '-f',
      config,
    ],
    { logFile: join(dir, 'sshd.log') },
  );
  return {
    address: options.address,
    port: options.port,
    root,
    sshd,
    async listening(timeoutMs = 10_000) {
      await waitFor(async () => ((await accepts(options.address, options.port)) ? true : undefined), {
        what: `sshd of ${options.hostname} on ${options.address}:${options.port} (log: ${sshd.logFile})`,
        timeoutMs,
        intervalMs: 20,
      });
    },
    async stop() {
      await sshd.stop(2_000);
    },
  };
}

/**
 * The first absolute `AuthorizedKeysFile` path (with `%u`) in the guest's sshd_config.d drop-ins,
 * as a host path inside the guest root. Its directory is made writable by every guest user: in a
 * real guest only root (sudo) writes there, and the simulator's sudo runs as the calling user.
 */
function rootOwnedKeyFile(root: string, files: GuestIdentity['files']): string | undefined {
  for (const file of files) {
    if (!file.path.startsWith('/etc/ssh/sshd_config.d/')) continue;
    for (const line of file.content.split('\n')) {
      const [directive, ...paths] = line.trim().split(/\s+/);
      if (directive?.toLowerCase() !== 'authorizedkeysfile') continue;
      const path = paths.find((p) => p.startsWith('/') && p.endsWith('/%u'));
      if (path === undefined) continue;
      const dir = join(root, dirname(path));
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      chmodSync(dir, 0o1777);
      return join(root, path);
    }
  }
  return undefined;
}

function buildRoot(root: string, options: GuestOptions): void {
  for (const sub of [
    'bin',
    'sbin',
    'usr/bin',
    'usr/sbin',
    'etc',
    'home',
    'var/log',
    'var/lib',
    'root',
    'dev',
    'dev/pts',
    'proc',
  ]) {
    mkdirSync(join(root, sub), { recursive: true, mode: 0o755 });
  }
  mkdirSync(join(root, 'tmp'), { mode: 0o1777 });
  chmodSync(join(root, 'tmp'), 0o1777);
  chmodSync(join(root, 'root'), 0o700);

  copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const applet of busyboxApplets()) {
    const target = join(root, applet);
    if (applet === 'bin/busybox') continue;
    mkdirSync(dirname(target), { recursive: true });
    try {
      symlinkSync('/bin/busybox', target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  for (const [name, major, minor] of [
    ['null', 1, 3],
    ['zero', 1, 5],
    ['random', 1, 8],
    ['urandom', 1, 9],
  ] as const) {
    execFileSync('mknod', ['-m', '666', join(root, 'dev', name), 'c', String(major), String(minor)]);
  }

  writeFileSync(
    join(root, 'usr/bin/sudo'),
    '#!/bin/sh\n# Simulated guest: sudo runs the command as the calling user.\nwhile [ $# -gt 0 ]; do\n  case "$1" in\n    -u | -g) shift 2 ;;\n    --) shift; break ;;\n    -*) shift ;;\n    *) break ;;\n  esac\ndone\nexec "$@"\n',
    { mode: 0o755 },
  );
  writeFileSync(join(root, 'etc/hostname'), `${options.hostname}\n`);
  writeFileSync(
    join(root, 'etc/os-release'),
    'NAME="breakfix simulated guest"\nID=breakfix-sim\nPRETTY_NAME="breakfix simulated guest (busybox)"\n',
  );

  const passwd = ['root:x:0:0:root:/root:/bin/sh'];
  const group = ['root:x:0:'];
  for (const user of options.identity.users) {
    const { uid, gid } = ensureHostUser(user.name);
    passwd.push(`${user.name}:x:${uid}:${gid}::/home/${user.name}:/bin/sh`);
    group.push(`${user.name}:x:${gid}:`);
    const home = join(root, 'home', user.name);
    const sshDir = join(home, '.ssh');
    mkdirSync(sshDir, { recursive: true });
    const keys = join(sshDir, 'authorized_keys');
    writeFileSync(keys, user.authorizedKeys.map((k) => `${k.trim()}\n`).join(''), { mode: 0o600 });
    for (const path of [home, sshDir, keys]) chownSync(path, uid, gid);
    chmodSync(sshDir, 0o700);
  }
  // cloud-init's write_files, as root wrote them (guest users cannot change them).
  for (const file of options.identity.files) {
    const target = join(root, file.path);
    if (!target.startsWith(`${root}/`)) continue;
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    writeFileSync(target, file.content, { mode: file.mode });
    chmodSync(target, file.mode);
  }
  writeFileSync(join(root, 'etc/passwd'), `${passwd.join('\n')}\n`);
  writeFileSync(join(root, 'etc/group'), `${group.join('\n')}\n`);
}

let applets: string[] | undefined;

function busyboxApplets(): string[] {
  applets ??= execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line !== '');
  return applets;
}

/**
 * sshd authenticates against the host's account database, so every guest user needs a host
 * account: a system account with no usable password, no home and no keys on the host. Its password
 * field is `*`, not useradd's `!`: without PAM, sshd refuses `!` accounts as locked even for keys.
 */
export function ensureHostUser(name: string): { uid: number; gid: number } {
  const lookup = () => {
    try {
      const entry = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
      const [, , uid, gid] = entry.split(':');
      return { uid: Number(uid), gid: Number(gid) };
    } catch {
      return undefined;
    }
  };
  const existing = lookup();
  if (existing !== undefined) return existing;
  execFileSync('useradd', [
    '--password',
    '*',
    '--system',
    '--user-group',
    '--no-create-home',
    '--home-dir',
    '/nonexistent',
    '--shell',
    '/bin/sh',
    '--comment',
    'breakfix sandbox guest user',
    name,
  ]);
  const created = lookup();
  if (created === undefined) throw new UnsupportedEnvironmentError(`could not create host account ${name} for a guest`);
  return created;
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
