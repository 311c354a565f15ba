import { performance } from 'node:perf_hooks';
import {
  isolationPolicies,
  type LabAddon,
  labNodes,
  type PlatformConfig,
  parseLabSpec,
  renderLab,
} from '@breakfix/manifests';
import type { LabSecrets } from '@breakfix/secrets';
import { analyze, type IsolationReport } from './analyze.js';
import { modelCluster } from './model.js';
import { connectivityMap } from './nca.js';

export interface VerifyOptions {
  platform: PlatformConfig;
  /** Path of the `nca` executable. */
  nca: string;
  labs?: number;
  /** The policy addon under test (default: breakfix's); a fixture swaps in a broken one. */
  policies?: LabAddon;
}

/** Placeholders: policies do not depend on credentials, so the proof needs none. */
function placeholderSecrets(nodes: string[]): LabSecrets {
  return {
    ca: { certPem: '', keyPem: '' },
    caCertHash: 'sha256:00',
    bootstrapToken: 'abcdef.0123456789abcdef',
    hostKeys: Object.fromEntries(nodes.map((n) => [n, { privateKey: '', publicKey: `ssh-ed25519 AAAA ${n}` }])),
  };
}

/** Renders `labs` labs of mixed topologies and egress modes and checks what the analyzer allows. */
export async function verifyIsolation(
  options: VerifyOptions,
): Promise<IsolationReport & { labs: number; analyzerMs: number }> {
  const count = options.labs ?? 50;
  const labs = Array.from({ length: count }, (_, i) => {
    const egress = i % 3 === 0 ? ('internet' as const) : ('none' as const);
    const spec = parseLabSpec({ labId: `iso${String(i).padStart(3, '0')}`, workers: i % 4, egress });
    const objects = renderLab(spec, options.platform, placeholderSecrets(labNodes(spec).map((n) => n.name)), {
      addons: [options.policies ?? isolationPolicies],
    });
    return { labId: spec.labId, egress, objects };
  });
  const model = modelCluster(labs, options.platform);
  const started = performance.now();
  const rules = await connectivityMap(model, options.nca);
  const analyzerMs = performance.now() - started;
  return { ...analyze(rules, model, options.platform), labs: count, analyzerMs };
}
