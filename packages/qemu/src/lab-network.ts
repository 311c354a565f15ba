import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, InvalidInputError, waitFor } from '@breakfix/core';
import { dnsmasqArgs, parseLeases, renderDhcpHosts, renderDnsHosts, type StaticHost } from './dnsmasq-config.js';
import { createNetworkNamespace, type NetworkNamespace } from './namespace.js';
import type { ManagedProcess } from './process.js';
import { TOOLS } from './tools.js';

export interface LabNetworkOptions {
  /** Search domains handed out by DHCP, e.g. `<ns>.svc.cluster.local svc.cluster.local cluster.local`. */
  searchDomains: readonly string[];
  /** MTU of the bridge and the one DHCP announces. Default 1500. */
  mtu?: number;
}

/**
 * One lab's L2 segment: a bridge with its own /24 inside the lab's own anonymous network namespace,
 * with one dnsmasq bound to that bridge. The namespace has no route out and no other lab in it.
 */
export interface LabNetwork {
  readonly id: string;
  /** e.g. 10.200.3.0/24 */
  readonly subnet: string;
  /** The bridge's address: router and DNS server of the lab. */
  readonly gateway: string;
  readonly bridge: string;
  readonly mtu: number;
  readonly namespace: NetworkNamespace;
  /** A static DHCP lease for `mac`; returns the address it will get. The same MAC keeps its address. */
  addHost(name: string, mac: string): string;
  /** Forgets a host's lease; its address is not handed out again while others are free. */
  removeHost(mac: string): void;
  /** An A record the lab's DNS answers, e.g. cp-api.<ns>.svc.cluster.local -> the control plane. */
  setDnsRecord(fqdn: string, address: string): void;
  /** Resolves with the address once dnsmasq has actually leased it to `mac`. */
  leased(mac: string, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

export interface LabNetworkContext {
  id: string;
  /** Third octet of 10.200.N.0/24. */
  index: number;
  dir: string;
  log: (line: string) => void;
}

const HOST_ADDRESSES = 253; // .2 .. .254

export async function createLabNetwork(context: LabNetworkContext, options: LabNetworkOptions): Promise<LabNetwork> {
  const { id, index, dir, log } = context;
  const mtu = options.mtu ?? 1500;
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 9000) throw new InvalidInputError(`mtu ${mtu} is not in 576..9000`);
  for (const domain of options.searchDomains) {
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(domain)) {
      throw new InvalidInputError(`search domain ${JSON.stringify(domain)} is not a DNS name`);
    }
  }
  const prefix = `10.200.${index}`;
  const gateway = `${prefix}.1`;
  const bridge = 'br0';
  mkdirSync(dir, { recursive: true });
  const files = {
    pidFile: join(dir, 'dnsmasq.pid'),
    logFile: join(dir, 'dnsmasq.log'),
    leaseFile: join(dir, 'dnsmasq.leases'),
    hostsFile: join(dir, 'dhcp-hosts'),
    dnsHostsFile: join(dir, 'dns-hosts'),
  };
  writeFileSync(files.hostsFile, '');
  writeFileSync(files.dnsHostsFile, '');
  writeFileSync(files.leaseFile, '');

  const namespace = await createNetworkNamespace(id, dir);
  let dnsmasq: ManagedProcess | undefined;
  try {
    const ip = (...args: string[]) => namespace.run(TOOLS.ip.path, args);
    await ip('link', 'add', bridge, 'mtu', String(mtu), 'type', 'bridge');
    await ip('address', 'add', `${gateway}/24`, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    dnsmasq = namespace.spawn(
      `dnsmasq-${id}`,
      TOOLS.dnsmasq.path,
      dnsmasqArgs({ bridge, network: `${prefix}.0`, gateway, mtu, searchDomains: options.searchDomains, files }),
      join(dir, 'dnsmasq.out'),
    );
    const started = dnsmasq;
    let exited = false;
    started.exited.then(() => {
      exited = true;
    });
    // dnsmasq installs its SIGHUP handler before it logs "started": only then may we signal it.
    await waitFor(
      async () => {
        if (exited) throw new Error(`dnsmasq exited; see ${files.logFile} and ${started.logFile}`);
        return existsSync(files.logFile) && readFileSync(files.logFile, 'utf8').includes('started, version')
          ? true
          : undefined;
      },
      { what: `dnsmasq of lab network ${id} to start`, timeoutMs: 15_000 },
    );
  } catch (error) {
    await dnsmasq?.stop(0);
    await namespace.stop();
    throw error;
  }
  const server = dnsmasq;
  log(`lab network ${id}: ${prefix}.0/24 on ${bridge} in netns of pid ${namespace.pid}, dnsmasq pid ${server.pid}`);

  const hosts = new Map<string, StaticHost>(); // by MAC
  const records = new Map<string, string>();
  let next = 0;
  let closed: Promise<void> | undefined;

  const reload = () => {
    writeFileSync(files.hostsFile, renderDhcpHosts(hosts.values()));
    writeFileSync(files.dnsHostsFile, renderDnsHosts(records));
    try {
      process.kill(server.pid, 'SIGHUP');
    } catch (error) {
      throw new ConflictError(`dnsmasq of lab network ${id} is gone`, { cause: error });
    }
  };
  const allocate = (): string => {
    const taken = new Set([...hosts.values()].map((host) => host.address));
    for (let tries = 0; tries < HOST_ADDRESSES; tries++) {
      const address = `${prefix}.${2 + ((next + tries) % HOST_ADDRESSES)}`;
      if (!taken.has(address)) {
        next = (next + tries + 1) % HOST_ADDRESSES;
        return address;
      }
    }
    throw new ConflictError(`lab network ${id} has no free address left`);
  };

  return {
    id,
    subnet: `${prefix}.0/24`,
    gateway,
    bridge,
    mtu,
    namespace,
    addHost(name, mac) {
      const key = normalizeMac(mac);
      if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) {
        throw new InvalidInputError(`host name ${JSON.stringify(name)} is not a DNS label`);
      }
      const existing = hosts.get(key);
      if (existing) return existing.address;
      const address = allocate();
      hosts.set(key, { name, mac: key, address });
      reload();
      return address;
    },
    removeHost(mac) {
      if (hosts.delete(normalizeMac(mac))) reload();
    },
    setDnsRecord(fqdn, address) {
      if (!/^[a-z0-9.-]+$/.test(fqdn)) throw new InvalidInputError(`${JSON.stringify(fqdn)} is not a DNS name`);
      if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) throw new InvalidInputError(`${address} is not an IPv4 address`);
      records.set(fqdn, address);
      reload();
    },
    async leased(mac, timeoutMs = 15 * 60_000) {
      const key = normalizeMac(mac);
      if (!hosts.has(key)) throw new InvalidInputError(`${key} has no static lease on lab network ${id}`);
      return waitFor(
        async () => {
          const host = hosts.get(key);
          if (!host) throw new ConflictError(`${key} was removed from lab network ${id}`);
          const lease = parseLeases(readFileSync(files.leaseFile, 'utf8')).find(
            (candidate) => candidate.mac === key && candidate.address === host.address,
          );
          return lease?.address;
        },
        { what: `a DHCP lease for ${key} on lab network ${id}`, timeoutMs, intervalMs: 250 },
      );
    },
    close() {
      closed ??= (async () => {
        await server.stop(2_000);
        await namespace.stop();
        rmSync(dir, { recursive: true, force: true });
        log(`lab network ${id} closed`);
      })();
      return closed;
    },
  };
}

export function normalizeMac(mac: string): string {
  const normal = mac.toLowerCase();
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(normal)) throw new InvalidInputError(`${mac} is not a MAC address`);
  return normal;
}
