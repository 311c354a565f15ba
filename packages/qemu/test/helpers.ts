import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@breakfix/core';
import type { LabNetwork } from '../src/index.js';
import { createNetworkNamespace, type NetworkNamespace } from '../src/namespace.js';

export const BUSYBOX = '/bin/busybox';

/** Short, because unix socket paths live under it. */
export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), `bf-${prefix}-`));

export interface DhcpAnswer {
  ip: string;
  subnet: string;
  router: string;
  dns: string;
  mtu: string;
  search: string;
  domain: string;
  hostname: string;
  lease: string;
}

/**
 * A stand-in guest: its own network namespace (nested, like a VM behind a tap) joined to the lab's
 * bridge by a veth pair, with the given MAC. Nothing in it but what busybox brings.
 */
export async function plugClient(network: LabNetwork, name: string, mac: string, dir: string) {
  const client = await createNetworkNamespace(`client-${name}`, dir);
  const lab = network.namespace;
  const peer = `v-${name}`.slice(0, 15);
  await lab.run('ip', ['link', 'add', peer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(client.pid)]);
  await lab.run('ip', ['link', 'set', peer, 'master', network.bridge, 'up']);
  await client.run('ip', ['link', 'set', 'eth0', 'address', mac, 'up']);
  return {
    namespace: client,
    /** Runs busybox udhcpc once; the script records what the server answered and configures eth0. */
    async dhcp(): Promise<DhcpAnswer> {
      const answer = join(dir, `${name}.dhcp`);
      const script = join(dir, `${name}.udhcpc.sh`);
      writeFileSync(
        script,
        [
          `#!${BUSYBOX} sh`,
          '[ "$1" = bound ] || exit 0',
          `${BUSYBOX} env > ${answer}`,
          `${BUSYBOX} ip addr add "$ip/$mask" dev "$interface"`,
          `${BUSYBOX} ip route add default via "$router"`,
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
      await client.run(BUSYBOX, ['udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '5', '-T', '2', '-s', script], 30_000);
      const env = Object.fromEntries(
        readFileSync(answer, 'utf8')
          .split('\n')
          .filter((line) => line.includes('='))
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
      return env as unknown as DhcpAnswer;
    },
    /** Whether `command` succeeds inside the client namespace. */
    async succeeds(command: string, args: readonly string[]): Promise<boolean> {
      return client.run(command, args, 20_000).then(
        () => true,
        () => false,
      );
    },
    stop: () => client.stop(),
  };
}

/** Whether `pid` still runs; a zombie (exited, not yet reaped by init) counts as gone. */
export const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

/** Pids of every process whose network namespace is `nsLink` (e.g. `net:[4026532301]`). */
export function processesIn(nsLink: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/ns/net`) === nsLink;
      } catch {
        return false;
      }
    })
    .map(Number);
}

export const waitGone = (pids: readonly number[], timeoutMs = 15_000) =>
  waitFor(async () => (pids.some(alive) ? undefined : true), { what: `pids ${pids.join(' ')} to exit`, timeoutMs });

export type { NetworkNamespace };
