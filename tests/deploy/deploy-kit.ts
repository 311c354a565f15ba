// What the deployment tests share: rendering an overlay with the real kubectl, and acting as one
// of the platform's ServiceAccounts with a token the apiserver minted for it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKube, type Kube, type KubeObject } from '@breakfix/kube';
import { resolveBinaries } from '@breakfix/sandbox';
import type { SandboxInfo } from '@breakfix/testkit';
import { parse, parseAllDocuments } from 'yaml';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const PLATFORM_NAMESPACE = 'breakfix-system';

export async function kubectlPath(info: SandboxInfo): Promise<string> {
  return info.kubectl ?? (await resolveBinaries()).kubectl;
}

/** Runs kubectl and returns stdout; throws with stderr when it fails. */
export function runKubectl(binary: string, args: string[], options: { input?: string } = {}): string {
  const result = spawnSync(binary, args, { cwd: repoRoot, encoding: 'utf8', input: options.input });
  if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** `kubectl kustomize <dir>`, parsed into objects. */
export function renderOverlay(binary: string, dir: string): KubeObject[] {
  return parseAllDocuments(runKubectl(binary, ['kustomize', dir]))
    .map((doc) => doc.toJSON() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null);
}

export function parseYamlFile<T = unknown>(path: string): T {
  return parse(readFileSync(join(repoRoot, path), 'utf8')) as T;
}

/**
 * A Kube that authenticates as `system:serviceaccount:<namespace>:<name>`: a token from the
 * TokenRequest API (what a pod's projected token is), in a kubeconfig for the sandbox's server.
 */
export function serviceAccountKube(info: SandboxInfo, binary: string, name: string): { kube: Kube; token: string } {
  const token = runKubectl(binary, [
    '--kubeconfig',
    info.kubeconfig,
    '-n',
    PLATFORM_NAMESPACE,
    'create',
    'token',
    name,
    '--duration=1h',
  ]).trim();
  const admin = parse(readFileSync(info.kubeconfig, 'utf8')) as {
    users: { name: string; user: Record<string, unknown> }[];
  };
  const config = { ...admin, users: admin.users.map((u) => ({ name: u.name, user: { token } })) };
  const path = join(mkdtempSync(join(tmpdir(), `breakfix-${name}-`)), 'kubeconfig');
  writeFileSync(path, JSON.stringify(config), { mode: 0o600 });
  return { kube: createKube({ kubeconfig: path, fieldManager: `breakfix-${name}` }), token };
}

/** The sandbox's CA, for raw requests the Kube port does not make (pods/exec). */
export function sandboxCa(info: SandboxInfo): string {
  const admin = parse(readFileSync(info.kubeconfig, 'utf8')) as {
    clusters: { cluster: { 'certificate-authority-data': string } }[];
  };
  return Buffer.from(admin.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64').toString('utf8');
}

/** One raw HTTPS request to the apiserver with a bearer token; resolves with the status code. */
export function rawStatus(info: SandboxInfo, token: string, method: string, path: string): Promise<number> {
  const url = new URL(info.apiServerUrl + path);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        method,
        hostname: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        ca: sandboxCa(info),
        headers: { Authorization: `Bearer ${token}` },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
