/**
 * Pure pieces of a lab's dnsmasq: its command line, its host files and its lease file. dnsmasq plays
 * the part of KubeVirt's per-VMI DHCP server (pkg/network/dhcp/server in kubevirt/kubevirt): one
 * fixed address per MAC, an infinite lease, router, DNS server, MTU, search domains and a domain
 * name sent whether or not the client asked for them; and the part of the host cluster's DNS, but
 * only for the lab's own names, with no upstream.
 */
export interface DnsmasqFiles {
  pidFile: string;
  logFile: string;
  leaseFile: string;
  hostsFile: string;
  dnsHostsFile: string;
}

export interface DnsmasqSettings {
  bridge: string;
  /** Network address of the /24, e.g. 10.200.3.0. */
  network: string;
  gateway: string;
  mtu: number;
  searchDomains: readonly string[];
  files: DnsmasqFiles;
}

export function dnsmasqArgs(settings: DnsmasqSettings): string[] {
  const { bridge, network, gateway, mtu, searchDomains, files } = settings;
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    // Lab names only: no /etc/resolv.conf, no /etc/hosts, nothing forwarded anywhere.
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    // Every name is local: lab records answer, AAAA of an A-only name is NODATA, the rest NXDOMAIN.
    // Without it dnsmasq answers REFUSED ("no upstream"), which resolvers treat as a broken server.
    '--local=/#/',
    '--domain-needed',
    '--bogus-priv',
    `--interface=${bridge}`,
    '--except-interface=lo',
    '--bind-interfaces',
    // The hosts files are re-read on SIGHUP; dnsmasq must still be able to read them then.
    '--user=root',
    '--group=root',
    `--pid-file=${files.pidFile}`,
    `--log-facility=${files.logFile}`,
    '--log-dhcp',
    '--log-queries',
    // `static`: only MACs listed in the hosts file get an address, as only the VMI's MAC gets one
    // from KubeVirt. KubeVirt's leases are infinite (999 days).
    `--dhcp-range=${network},static,255.255.255.0,infinite`,
    '--dhcp-authoritative',
    `--dhcp-leasefile=${files.leaseFile}`,
    `--dhcp-hostsfile=${files.hostsFile}`,
    `--addn-hosts=${files.dnsHostsFile}`,
    `--dhcp-option=option:router,${gateway}`,
    `--dhcp-option=option:dns-server,${gateway}`,
    `--dhcp-option-force=option:mtu,${mtu}`,
  ];
  if (searchDomains.length > 0) {
    args.push(`--dhcp-option-force=option:domain-search,${searchDomains.join(',')}`);
    args.push(`--dhcp-option-force=option:domain-name,${searchDomains[0]}`);
  }
  return args;
}

export interface StaticHost {
  name: string;
  mac: string;
  address: string;
}

/** dhcp-hostsfile: one `mac,address,name,lease` line per host. */
export function renderDhcpHosts(hosts: Iterable<StaticHost>): string {
  return [...hosts].map((host) => `${host.mac},${host.address},${host.name},infinite\n`).join('');
}

/** addn-hosts: /etc/hosts format. */
export function renderDnsHosts(records: ReadonlyMap<string, string>): string {
  return [...records].map(([fqdn, address]) => `${address} ${fqdn}\n`).join('');
}

export interface Lease {
  mac: string;
  address: string;
  hostname: string;
}

/** dnsmasq's lease file: `<expiry> <mac> <address> <hostname|*> <client-id|*>` per line. */
export function parseLeases(text: string): Lease[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 4)
    .map(([, mac = '', address = '', hostname = '']) => ({ mac: mac.toLowerCase(), address, hostname }));
}
