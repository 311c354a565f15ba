import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GuestImage } from '@breakfix/qemu';
import type { ImageResolver } from './qemu-guests.js';

const BUILD_SCRIPT = fileURLToPath(new URL('../../../../images/build.sh', import.meta.url));

interface ImageManifest {
  /** The qcow2 the containerDisk carries; absent in images built before it existed. */
  qcow2?: string;
  /** The raw disk the image was built as (container nodes boot its root partition). */
  disk?: string;
}

/**
 * Resolves a containerDisk reference (`…/node:v1.36.3`) to the disk of the golden image
 * images/build.sh made for that release, the `disk.qcow2` its containerDisk carries, as KubeVirt's
 * node would pull it: the disk only, booted by the VM's firmware. A release without a built image
 * is reported missing with the command that builds it; nothing is built on the way.
 */
export function nodeImageResolver(): ImageResolver {
  const cache = new Map<string, GuestImage>();
  return (containerDisk) => {
    const tag = containerDisk.slice(containerDisk.lastIndexOf(':') + 1);
    if (!/^v1\.\d+\.\d+$/.test(tag))
      return { missing: `containerDisk ${containerDisk} does not name a release (…:v1.36.3)` };
    const known = cache.get(tag);
    if (known !== undefined) return known;
    const dir = execFileSync('bash', [BUILD_SCRIPT, '--print-dir', tag], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .at(-1);
    const manifestFile = join(dir ?? '', 'manifest.json');
    if (dir === undefined || !existsSync(manifestFile)) {
      return {
        missing: `no golden image for ${tag} (containerDisk ${containerDisk}): build it with \`bash images/build.sh ${tag}\``,
      };
    }
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as ImageManifest;
    if (manifest.qcow2 === undefined) {
      return {
        missing: `the golden image in ${dir} has no containerDisk: rebuild it with \`bash images/build.sh ${tag}\``,
      };
    }
    const image: GuestImage = {
      disk: join(dir, manifest.qcow2),
      ...(manifest.disk === undefined ? {} : { raw: join(dir, manifest.disk) }),
    };
    cache.set(tag, image);
    return image;
  };
}
