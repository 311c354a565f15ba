import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnsupportedEnvironmentError } from '@breakfix/core';

const SOURCE_DIR = fileURLToPath(new URL('./guest-init/', import.meta.url));

let built: string | undefined;

/**
 * The guest-init program (guest-init/main.go): boots a guest in its own namespaces and is the
 * guest's sudo. Built once with the Go toolchain the sandbox already needs for its test binaries,
 * into breakfix's binary cache (infra/testbin/build.sh's), keyed by the source's hash.
 */
export function guestInitBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (built !== undefined) return built;
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'main.go']) hash.update(readFileSync(join(SOURCE_DIR, file)));
  const cacheRoot = env.BREAKFIX_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'breakfix');
  const dir = join(cacheRoot, 'bin');
  const binary = join(dir, `guest-init-${hash.digest('hex').slice(0, 16)}`);
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    // Several test processes may build at once: each writes its own file, the rename is atomic.
    const partial = `${binary}.${process.pid}.tmp`;
    try {
      execFileSync('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', partial, '.'], {
        cwd: SOURCE_DIR,
        env: { ...env, CGO_ENABLED: '0', GOWORK: 'off', GOFLAGS: '' },
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 300_000,
      });
    } catch (error) {
      throw new UnsupportedEnvironmentError('could not build the simulated guests’ init (Go)', {
        hint: `install Go (the sandbox's test binaries need it too): ${(error as Error).message}`,
        cause: error,
      });
    }
    renameSync(partial, binary);
  }
  built = binary;
  return binary;
}
