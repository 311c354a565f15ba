import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { UnsupportedEnvironmentError } from '@breakfix/core';

export type BinaryName = 'kube-apiserver' | 'kube-controller-manager' | 'etcd' | 'kubectl' | 'kubeadm';
export type Binaries = Record<BinaryName, string>;

const NAMES: readonly BinaryName[] = ['kube-apiserver', 'kube-controller-manager', 'etcd', 'kubectl', 'kubeadm'];
const BUILD_SCRIPT = fileURLToPath(new URL('../../../infra/testbin/build.sh', import.meta.url));

/** `BREAKFIX_KUBE_APISERVER`, `BREAKFIX_KUBE_CONTROLLER_MANAGER`, `BREAKFIX_ETCD`, ... */
export function envVarFor(name: BinaryName): string {
  return `BREAKFIX_${name.toUpperCase().replaceAll('-', '_')}`;
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** Build what is missing with infra/testbin/build.sh (needs Go). Default true. */
  build?: boolean;
  /** Receives the build script's progress lines. */
  onProgress?: (line: string) => void;
}

/**
 * Finds the test binaries: an explicit path per binary (`BREAKFIX_ETCD=/usr/local/bin/etcd`), then a
 * directory holding them all (`BREAKFIX_TESTBIN_DIR`, or envtest's `KUBEBUILDER_ASSETS`), then the
 * version-keyed cache that infra/testbin/build.sh fills.
 */
export async function resolveBinaries(options: ResolveOptions = {}): Promise<Binaries> {
  const env = options.env ?? process.env;
  const explicit = (name: BinaryName): string | undefined => {
    const path = env[envVarFor(name)];
    if (path !== undefined && path !== '') return path;
    for (const dir of [env.BREAKFIX_TESTBIN_DIR, env.KUBEBUILDER_ASSETS]) {
      if (dir !== undefined && dir !== '' && isExecutable(join(dir, name))) return join(dir, name);
    }
    return undefined;
  };

  const found = new Map(NAMES.map((name) => [name, explicit(name)]));
  if ([...found.values()].some((path) => path === undefined)) {
    if (options.build === false) {
      const missing = NAMES.filter((name) => found.get(name) === undefined);
      throw new UnsupportedEnvironmentError(`test binaries not found: ${missing.join(', ')}`, {
        hint: `run infra/testbin/build.sh, or set ${missing.map(envVarFor).join(' / ')}`,
      });
    }
    const dir = await runBuildScript(env, options.onProgress);
    for (const name of NAMES) if (found.get(name) === undefined) found.set(name, join(dir, name));
  }

  const binaries = Object.fromEntries(found) as Binaries;
  for (const name of NAMES) {
    if (!isExecutable(binaries[name])) {
      throw new UnsupportedEnvironmentError(`${name} at ${binaries[name]} is not an executable file`, {
        hint: `fix ${envVarFor(name)} or rerun infra/testbin/build.sh`,
      });
    }
  }
  return binaries;
}

async function runBuildScript(env: NodeJS.ProcessEnv, onProgress?: (line: string) => void): Promise<string> {
  try {
    const child = promisify(execFile)('bash', [BUILD_SCRIPT], { env, maxBuffer: 16 * 1024 * 1024 });
    const { stdout } = await child;
    const lines = stdout.trim().split('\n');
    for (const line of lines.slice(0, -1)) onProgress?.(line);
    const dir = lines.at(-1);
    if (dir === undefined || dir === '') throw new Error('build.sh printed no directory');
    return dir;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new UnsupportedEnvironmentError(
      `building the test binaries failed: ${stderr.trim().split('\n').slice(-5).join('\n')}`,
      {
        hint: 'run infra/testbin/build.sh to see the whole output',
        cause: error,
      },
    );
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
