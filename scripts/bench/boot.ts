import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createQemuHost } from '@breakfix/qemu';
import { bootToSsh, findNodeImage } from '../../packages/qemu/test/boot-helpers.js';
import { tempDir } from '../../packages/qemu/test/helpers.js';
import type { BenchSettings } from '../bench.js';
import { type Figure, latency } from './stats.js';

const NS = 'lab-bench-boot';

/**
 * The golden node image from QEMU start to an SSH login, both ways it can boot: through UEFI
 * firmware from its own disk, as KubeVirt boots the containerDisk (what a learner's lab waits
 * for), and directly with its kernel and initramfs, SeaBIOS, no firmware (for comparison: what
 * the firmware and systemd's stub cost). One guest at a time, 2 vCPUs and 2 GiB each.
 */
export async function* benchBoot(settings: BenchSettings): AsyncGenerator<Figure> {
  if (settings.boots === 0) return;
  const image = findNodeImage();
  const dir = tempDir('bench-boot');
  const host = await createQemuHost({ dir: join(dir, 'host') });
  try {
    const lab = await host.network(NS, {
      searchDomains: [`${NS}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'],
      mtu: 1450,
    });
    const ways = [
      {
        name: 'efi',
        address: '127.250.21.3',
        boot: { image: { disk: join(image.dir, 'disk.qcow2') }, firmware: 'efi' as const },
      },
      { name: 'direct', address: '127.250.21.4', boot: { image: { ...image, disk: join(image.dir, 'disk.qcow2') } } },
    ];
    for (const way of ways) {
      const seconds: number[] = [];
      let failures = 0;
      for (let run = 0; run < settings.boots; run++) {
        try {
          seconds.push((await bootToSsh({ host, lab, dir }, `${way.name}-${run}`, way.address, way.boot)).seconds);
        } catch (error) {
          failures++;
          console.error(`boot ${way.name} #${run + 1} failed: ${error instanceof Error ? error.message : error}`);
        }
      }
      if (seconds.length > 0)
        yield latency(`qemu.boot_to_ssh_login.${way.name} (${host.accelerator}, golden image, 2 vCPU)`, seconds, {
          unit: 's',
          failures,
        });
    }
  } finally {
    await host.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
