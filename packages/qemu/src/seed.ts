import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, TOOLS } from './tools.js';

export interface NoCloudSeed {
  userData: string;
  metaData: string;
  /** Netplan-style network config v1/v2; omitted means the guest's default (DHCP). */
  networkData?: string;
}

/**
 * A NoCloud seed ISO, the way KubeVirt serves `cloudInitNoCloud`: an ISO9660 volume labelled
 * `cidata` holding `user-data`, `meta-data` and, when given, `network-config`
 * (https://cloudinit.readthedocs.io/en/latest/reference/datasources/nocloud.html).
 */
export async function writeSeedIso(dir: string, seed: NoCloudSeed): Promise<string> {
  const files = join(dir, 'seed');
  mkdirSync(files, { recursive: true });
  const names = ['user-data', 'meta-data'];
  writeFileSync(join(files, 'user-data'), seed.userData);
  writeFileSync(join(files, 'meta-data'), seed.metaData);
  if (seed.networkData !== undefined) {
    writeFileSync(join(files, 'network-config'), seed.networkData);
    names.push('network-config');
  }
  const iso = join(dir, 'seed.iso');
  await run(TOOLS.genisoimage.path, [
    '-quiet',
    '-output',
    iso,
    '-volid',
    'cidata',
    '-joliet',
    '-rock',
    ...names.map((name) => join(files, name)),
  ]);
  return iso;
}
