import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { UnsupportedEnvironmentError, waitFor } from '@breakfix/core';
import type { ManagedProcess } from '@breakfix/qemu';
import { spawnManaged } from '@breakfix/qemu';
import type { GuestIdentity } from './cloud-config.js';
import { guestInitBinary } from './guest-init.js';
import { BUSYBOX, buildGuestRoot, GUEST_IDS, guestUidBase, SSHD } from './guest-root.js';

export { BUSYBOX, SSHD };

export interface GuestOptions {
  /** Directory of this guest: its root file system, boot spec and log. */
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
  /** Host uid of the guest's root (its user namespace maps guest uid n to uidBase + n). */
  uidBase: number;
  sshd: ManagedProcess;
  /** Resolves once sshd accepts connections. */
  listening(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The guest's /etc/ssh/sshd_config after its HostKey lines: Debian's, which reads the drop-ins
 * first (cloud-init's, with breakfix's `AuthorizedKeysFile`), minus what a busybox guest lacks
 * (PAM) and never kinder than a node (no passwords, no root login, StrictModes on).
 */
function sshdConfig(identity: GuestIdentity): string {
  return [
    'Include /etc/ssh/sshd_config.d/*.conf',
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
  ].join('\n');
}

/**
 * Boots a simulated guest: a fresh root file system (a containerDisk is ephemeral, so every boot
 * starts from scratch) with busybox and the users, files and host keys from cloud-init, and the
 * host's OpenSSH sshd running inside it, as on a node.
 *
 * The guest is a user namespace whose root is an unprivileged host uid of its own (guestUidBase),
 * with its own mount, PID, UTS and IPC namespaces, pivoted into its root file system (guest-init).
 * So `sudo` in a guest is uid 0 there and owns the guest's files, sshd reads keys through the real
 * `AuthorizedKeysFile` with StrictModes on, and still nothing in a guest can touch the host or
 * another guest: its root has no capability outside its namespaces and owns no host file. Only
 * the network namespace is the host's (the guest's loopback address), which is why the listening
 * socket is bound outside and handed to sshd.
 */
export function bootGuest(options: GuestOptions): Guest {
  const { dir, identity } = options;
  if (identity.hostKeys.length === 0) {
    throw new UnsupportedEnvironmentError(`guest ${options.hostname} has no SSH host key in its user-data`, {
      hint: 'render ssh_keys.ed25519_private into the cloud-init Secret',
    });
  }
  const init = guestInitBinary();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const root = join(dir, 'root');
  const uidBase = guestUidBase(options.address);
  const binds = buildGuestRoot({
    root,
    hostname: options.hostname,
    identity,
    uidBase,
    sudo: init,
    sshdConfig: sshdConfig(identity),
  });
  const spec = join(dir, 'boot.json');
  writeFileSync(
    spec,
    JSON.stringify({
      root,
      hostname: options.hostname,
      listen: `${options.address}:${options.port}`,
      uidBase,
      uidCount: GUEST_IDS,
      binds,
      command: [SSHD, '-D', '-e'],
    }),
  );
  const sshd = spawnManaged('sshd', init, ['boot', spec], { logFile: join(dir, 'sshd.log') });
  return {
    address: options.address,
    port: options.port,
    root,
    uidBase,
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
