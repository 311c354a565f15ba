import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
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
  const missing = () => NAMES.filter((name) => found.get(name) === undefined);
  if (missing().length > 0) {
    const { dir, complete } = await runBuildScript(env, options.build !== false, options.onProgress);
    if (complete) for (const name of missing()) found.set(name, join(dir, name));
  }
  if (missing().length > 0) {
    throw new UnsupportedEnvironmentError(`test binaries not found: ${missing().join(', ')}`, {
      hint: `run infra/testbin/build.sh, or set ${missing().map(envVarFor).join(' / ')}`,
    });
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

/**
 * Runs build.sh (or `build.sh --check`, which builds nothing), streaming its progress lines as they
 * come (a first build takes minutes), and reads the directory it prints last.
 */
async function runBuildScript(
  env: NodeJS.ProcessEnv,
  build: boolean,
  onProgress?: (line: string) => void,
): Promise<{ dir: string; complete: boolean }> {
  const child = spawn('bash', build ? [BUILD_SCRIPT] : [BUILD_SCRIPT, '--check'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (lines.length > 0) onProgress?.(lines.at(-1) ?? '');
    lines.push(line);
  });
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code === 0 || (!build && code === 3)) return { dir: lines.at(-1) ?? '', complete: code === 0 };
  throw new UnsupportedEnvironmentError(`building the test binaries failed: ${stderr.slice(-5).join('\n')}`, {
    hint: 'run infra/testbin/build.sh to see the whole output',
  });
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const kubeadmVersions = new Map<string, Promise<string>>();

/**
 * The kubeadm for a Kubernetes version: kubeadm validates configs only for its own minor and the
 * one before, so build.sh keeps `kubeadm-<version>` beside the main kubeadm for older releases.
 */
export async function kubeadmFor(binaries: Binaries, version: string): Promise<string> {
  const versioned = join(dirname(binaries.kubeadm), `kubeadm-${version}`);
  if (isExecutable(versioned)) return versioned;
  let own = kubeadmVersions.get(binaries.kubeadm);
  if (own === undefined) {
    own = new Promise((resolve, reject) =>
      execFile(binaries.kubeadm, ['version', '-o', 'short'], (error, stdout) =>
        error ? reject(error) : resolve(stdout.trim()),
      ),
    );
    kubeadmVersions.set(binaries.kubeadm, own);
  }
  if ((await own) === version) return binaries.kubeadm;
  throw new UnsupportedEnvironmentError(`no kubeadm ${version} (have ${await own} at ${binaries.kubeadm})`, {
    hint: `add infra/testbin/kubeadm-<minor>/ for ${version} and rerun infra/testbin/build.sh`,
  });
}
