import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { promisify } from 'node:util';
import { UnsupportedEnvironmentError, UpstreamError } from '@breakfix/core';

const execFileAsync = promisify(execFile);

/** The host programs this package drives, with the Debian package that ships each. */
export const TOOLS = {
  qemu: { path: '/usr/bin/qemu-system-x86_64', debian: 'qemu-system-x86' },
  qemuImg: { path: '/usr/bin/qemu-img', debian: 'qemu-utils' },
  genisoimage: { path: '/usr/bin/genisoimage', debian: 'genisoimage' },
  dnsmasq: { path: '/usr/sbin/dnsmasq', debian: 'dnsmasq-base' },
  socat: { path: '/usr/bin/socat', debian: 'socat' },
  ip: { path: '/usr/sbin/ip', debian: 'iproute2' },
  unshare: { path: '/usr/bin/unshare', debian: 'util-linux' },
  nsenter: { path: '/usr/bin/nsenter', debian: 'util-linux' },
  setpriv: { path: '/usr/bin/setpriv', debian: 'util-linux' },
} as const;

export type Tool = keyof typeof TOOLS;

/**
 * UEFI firmware, Debian's OVMF as KubeVirt's virt-launcher carries it: without Secure Boot for
 * `bootloader.efi.secureBoot: false`, and the Secure Boot build with Microsoft's keys enrolled
 * (which needs SMM) for KubeVirt's default `secureBoot: true`. The 4 MiB builds: Debian 13 ships
 * no other. The code is shared read-only; each VM gets its own copy of the variable store.
 */
export const OVMF = {
  plain: { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd' },
  secureBoot: { code: '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd' },
  debian: 'ovmf',
} as const;

/** Fails with what to install when the UEFI firmware is missing. */
export function requireOvmf(): void {
  const files = [OVMF.plain.code, OVMF.plain.vars, OVMF.secureBoot.code, OVMF.secureBoot.vars];
  const missing = files.filter((path) => !accessible(path, constants.R_OK));
  if (missing.length > 0) {
    throw new UnsupportedEnvironmentError(`missing UEFI firmware ${missing.join(', ')}`, {
      hint: `run \`npm run deps\` or apt-get install -y ${OVMF.debian}`,
    });
  }
}

/** Fails with one message naming every missing program and the packages to install. */
export function requireTools(): void {
  const missing = Object.values(TOOLS).filter(({ path }) => !accessible(path, constants.X_OK));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((tool) => tool.debian))].join(' ');
    throw new UnsupportedEnvironmentError(`missing ${missing.map((tool) => tool.path).join(', ')}`, {
      hint: `run \`npm run deps\` or apt-get install -y ${packages}`,
    });
  }
  if (process.getuid?.() !== 0) {
    throw new UnsupportedEnvironmentError('the QEMU backend needs root (network namespaces, bridges, taps)', {
      hint: 'run as root, e.g. in the project container',
    });
  }
}

/** Whether this process may read (R_OK) or run (X_OK) the file. */
export function accessible(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** Runs a short command to completion under a deadline; its stderr goes into the error. */
export async function run(command: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL' });
    return stdout;
  } catch (error) {
    const { stderr, killed } = error as { stderr?: string; killed?: boolean };
    const why = killed ? `did not finish within ${timeoutMs} ms` : (stderr?.trim() ?? String(error));
    throw new UpstreamError(`${command} ${args.join(' ')}: ${why}`, { cause: error });
  }
}
