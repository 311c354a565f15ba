import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { IMAGE_PATHS } from '@breakfix/cloud-init';
import type { GuestIdentity } from './cloud-config.js';

export const BUSYBOX = '/bin/busybox';
export const SSHD = '/usr/sbin/sshd';

/** Host ids a guest's user namespace maps: guest ids 0..GUEST_IDS-1 (root, sshd, the users from 1000). */
export const GUEST_IDS = 2048;
/** Where cloud-init's useradd starts, as on a Debian node: the first user is 1000, the next 1001. */
const FIRST_USER_ID = 1000;
/** sshd's privilege-separation account (Debian's `sshd`, chrooted into /run/sshd). */
const SSHD_ID = 100;

/**
 * The host uid a guest's root is, derived from its address 127.P.c.d: above 2^30, where no host
 * account lives, one range of GUEST_IDS per sandbox prefix P and guest (the low 12 bits of c.d; a
 * sandbox hands out addresses in order, so two running guests share a range only after 4096 boots).
 * Guests never share ids: one guest's root owns nothing of another's.
 */
export function guestUidBase(address: string): number {
  const [, p, c, d] = address.split('.').map(Number) as [number, number, number, number];
  const slot = (p << 12) | (((c << 8) | d) & 0xfff);
  return 2 ** 30 + slot * GUEST_IDS;
}

export interface GuestRootOptions {
  root: string;
  hostname: string;
  identity: GuestIdentity;
  /** Host uid of the guest's root (guestUidBase). */
  uidBase: number;
  /** The guest's sudo (the guest-init program), installed set-user-ID root. */
  sudo: string;
  /** The guest's /etc/ssh/sshd_config. */
  sshdConfig: string;
}

/**
 * A fresh root file system for one boot (a containerDisk is ephemeral): busybox, the users and
 * files from cloud-init, sshd's configuration and host keys where a Debian node has them, and
 * mount points for the host's sshd and libraries (bound read-only at boot: hostPathsForSshd).
 * Everything belongs to the guest's own ids: root is uidBase, user n is uidBase + n.
 * Returns the host paths to bind and where.
 */
export function buildGuestRoot(options: GuestRootOptions): { source: string; target: string }[] {
  const { root, identity } = options;
  for (const sub of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc/ssh', 'etc/sudoers.d', 'home', 'root']) {
    mkdirSync(join(root, sub), { recursive: true, mode: 0o755 });
  }
  for (const sub of ['var/log', 'var/lib', 'run/sshd', 'dev/pts', 'proc', dirname(IMAGE_PATHS.readyMarker)]) {
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
    if (!lexists(target)) symlinkSync('/bin/busybox', target);
  }
  for (const [name, major, minor] of [
    ['null', 1, 3],
    ['zero', 1, 5],
    ['random', 1, 8],
    ['urandom', 1, 9],
  ] as const) {
    execFileSync('mknod', ['-m', '666', join(root, 'dev', name), 'c', String(major), String(minor)]);
  }
  // Terminals come from the guest's own devpts instance (mounted at boot).
  symlinkSync('pts/ptmx', join(root, 'dev/ptmx'));
  copyFileSync(options.sudo, join(root, 'usr/bin/sudo'));

  writeFileSync(join(root, 'etc/hostname'), `${options.hostname}\n`);
  writeFileSync(
    join(root, 'etc/os-release'),
    'NAME="breakfix simulated guest"\nID=breakfix-sim\nPRETTY_NAME="breakfix simulated guest (busybox)"\n',
  );

  const passwd = [
    'root:x:0:0:root:/root:/bin/sh',
    // Debian gives sshd the group nogroup (65534), which the guest's id map leaves out: its own group.
    `sshd:x:${SSHD_ID}:${SSHD_ID}::/run/sshd:/usr/sbin/nologin`,
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  ];
  const group = ['root:x:0:', `sshd:x:${SSHD_ID}:`, 'nogroup:x:65534:'];
  const sudoers: string[] = [];
  const homes: { path: string; id: number }[] = [];
  identity.users.forEach((user, index) => {
    const id = FIRST_USER_ID + index;
    passwd.push(`${user.name}:x:${id}:${id}::/home/${user.name}:/bin/sh`);
    group.push(`${user.name}:x:${id}:`);
    for (const rule of user.sudo ?? []) sudoers.push(`${user.name} ${rule}`);
    const home = join(root, 'home', user.name);
    mkdirSync(home, { recursive: true, mode: 0o755 });
    // cloud-init writes ~/.ssh/authorized_keys only for users it has keys for (not the learner).
    if (user.authorizedKeys.length > 0) {
      mkdirSync(join(home, '.ssh'), { mode: 0o700 });
      writeFileSync(join(home, '.ssh/authorized_keys'), user.authorizedKeys.map((k) => `${k.trim()}\n`).join(''), {
        mode: 0o600,
      });
    }
    homes.push({ path: home, id });
  });
  writeFileSync(join(root, 'etc/passwd'), `${passwd.join('\n')}\n`);
  writeFileSync(join(root, 'etc/group'), `${group.join('\n')}\n`);
  // As cloud-init's users module writes them.
  writeFileSync(join(root, 'etc/sudoers.d/90-cloud-init-users'), sudoers.map((line) => `${line}\n`).join(''), {
    mode: 0o440,
  });

  const hostKeys = identity.hostKeys.map((key) => {
    const path = `/etc/ssh/ssh_host_${key.type}_key`;
    writeFileSync(join(root, path), key.privateKey.endsWith('\n') ? key.privateKey : `${key.privateKey}\n`, {
      mode: 0o600,
    });
    return path;
  });
  writeFileSync(
    join(root, 'etc/ssh/sshd_config'),
    `${hostKeys.map((path) => `HostKey ${path}`).join('\n')}\n${options.sshdConfig}`,
  );
  // cloud-init's write_files, as root wrote them (guest users cannot change them).
  for (const file of identity.files) {
    const target = join(root, file.path);
    if (!target.startsWith(`${root}/`)) continue;
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    writeFileSync(target, file.content, { mode: file.mode });
    chmodSync(target, file.mode);
  }

  const binds = hostPathsForSshd(root);
  // Owners last: everything is the guest root's, each home its user's; chown clears set-user-ID.
  execFileSync('chown', ['-hR', `${options.uidBase}:${options.uidBase}`, root]);
  for (const { path, id } of homes) {
    execFileSync('chown', ['-hR', `${options.uidBase + id}:${options.uidBase + id}`, path]);
  }
  chmodSync(join(root, 'usr/bin/sudo'), 0o4755);
  return binds;
}

/**
 * sshd runs inside the guest, as on a node, so the guest needs the host's sshd and the libraries
 * it loads (`ldd`) at the same paths: the directories holding them are bound read-only at boot
 * (they stay the host root's, which the guest's root is not), and symlinked path components
 * (Debian's /lib -> usr/lib) are recreated. Makes the mount points; returns what to bind where.
 */
function hostPathsForSshd(root: string): { source: string; target: string }[] {
  const libs = execFileSync('ldd', [SSHD], { encoding: 'utf8' })
    .split('\n')
    .flatMap((line) => /(\/\S+) \(0x/.exec(line)?.[1] ?? []);
  const dirs = new Set<string>();
  for (const lib of libs) {
    mirrorSymlinks(root, dirname(lib));
    dirs.add(realpathSync(dirname(lib)));
  }
  const binds = [...dirs].map((dir) => {
    mkdirSync(join(root, dir), { recursive: true, mode: 0o755 });
    return { source: dir, target: dir };
  });
  writeFileSync(join(root, SSHD), '', { mode: 0o755 });
  return [...binds, { source: SSHD, target: SSHD }];
}

function mirrorSymlinks(root: string, path: string): void {
  let prefix = '';
  for (const part of path.split('/').filter((p) => p !== '')) {
    prefix = `${prefix}/${part}`;
    if (!lstatSync(prefix).isSymbolicLink()) continue;
    const target = join(root, prefix);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    if (!lexists(target)) symlinkSync(readlinkSync(prefix), target);
    mirrorSymlinks(root, realpathSync(prefix));
    return;
  }
}

function lexists(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

let applets: string[] | undefined;

function busyboxApplets(): string[] {
  applets ??= execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line !== '');
  return applets;
}
