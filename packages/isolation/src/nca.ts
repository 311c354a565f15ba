import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UnsupportedEnvironmentError, UpstreamError } from '@breakfix/core';
import { stringify } from 'yaml';
import type { AnalyzerRule } from './analyze.js';
import type { ClusterModel } from './model.js';

/**
 * Asks np-guard's network-config-analyzer (`nca`, PyPI `network-config-analyzer`) for the
 * connectivity map of a cluster model: every allowed connection between workloads and IP blocks.
 */
export async function connectivityMap(model: ClusterModel, nca: string): Promise<AnalyzerRule[]> {
  const dir = mkdtempSync(join(tmpdir(), 'breakfix-nca-'));
  try {
    const policies = join(dir, 'policies.yaml');
    writeFileSync(policies, model.policies.map((p) => `---\n${stringify(p)}`).join(''));
    writeFileSync(join(dir, 'pods.yaml'), stringify({ apiVersion: 'v1', kind: 'PodList', items: model.pods }));
    writeFileSync(
      join(dir, 'namespaces.yaml'),
      stringify({ apiVersion: 'v1', kind: 'NamespaceList', items: model.namespaces }),
    );
    const args = [
      '--connectivity',
      policies,
      '--pod_list',
      join(dir, 'pods.yaml'),
      '--ns_list',
      join(dir, 'namespaces.yaml'),
      '--output_format',
      'json',
      '--file_out',
      join(dir, 'connectivity.json'),
      '--return_0',
    ];
    await promisify(execFile)(nca, args, { maxBuffer: 64 * 1024 * 1024 }).catch((error: unknown) => {
      throw new UpstreamError(`nca failed: ${(error as { stderr?: string }).stderr ?? String(error)}`, {
        cause: error,
      });
    });
    // nca appends a "Total run time" line after the JSON document.
    const text = readFileSync(join(dir, 'connectivity.json'), 'utf8');
    const [result] = JSON.parse(text.slice(text.indexOf('['), text.lastIndexOf(']') + 1)) as {
      explanation?: { rules?: AnalyzerRule[] }[];
    }[];
    return result?.explanation?.flatMap((e) => e.rules ?? []) ?? [];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const INSTALL_SCRIPT = new URL('../../../infra/nca/install.sh', import.meta.url).pathname;

/** `BREAKFIX_NCA`, else the analyzer infra/nca/install.sh put in breakfix's cache. */
export async function resolveNca(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.BREAKFIX_NCA !== undefined && env.BREAKFIX_NCA !== '') return env.BREAKFIX_NCA;
  try {
    const { stdout } = await promisify(execFile)('bash', [INSTALL_SCRIPT, '--check'], { env });
    return stdout.trim().split('\n').at(-1) ?? '';
  } catch {
    throw new UnsupportedEnvironmentError('the isolation analyzer (network-config-analyzer) is not installed', {
      hint: 'run `npm run deps` or infra/nca/install.sh, or set BREAKFIX_NCA',
    });
  }
}
