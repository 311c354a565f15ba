import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GuestImage } from '@breakfix/qemu';
import type { ImageResolver } from './qemu-guests.js';

const BUILD_SCRIPT = fileURLToPath(new URL('../../../../images/build.sh', import.meta.url));

interface ImageManifest {
  disk: string;
  kernelFile: string;
  initrdFile: string;
  cmdline: string;
}

/**
 * Resolves a containerDisk reference (`…/node:v1.36.3`) to the golden image images/build.sh made
 * for that release, as KubeVirt's node would pull it. A release without a built image is
 * reported missing with the command that builds it; nothing is built on the way.
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
    const image: GuestImage = {
      disk: join(dir, manifest.disk),
      kernel: join(dir, manifest.kernelFile),
      initrd: join(dir, manifest.initrdFile),
      cmdline: manifest.cmdline,
    };
    cache.set(tag, image);
    return image;
  };
}
