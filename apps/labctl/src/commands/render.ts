import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '@breakfix/core';
import {
  CNIS,
  checkKubevirtRules,
  KUBERNETES_RELEASES,
  labNodes,
  parseLabSpec,
  parsePlatformConfig,
  renderLab,
  SIZE_PROFILES,
} from '@breakfix/manifests';
import { Command, Option } from 'commander';
import { parse, stringify } from 'yaml';
import { completes } from '../cli/completion/index.js';
import { examples, wholeNumber } from '../cli/help.js';

interface RenderOptions {
  k8s?: string;
  workers: string;
  size: string;
  cni: string;
  labId?: string;
  platform?: string;
  operatorKey?: string;
  out?: string;
}

export function renderCommand(): Command {
  const command = new Command('render')
    .summary('print the Kubernetes objects of one lab')
    .description(
      'Print the Kubernetes objects of one lab as multi-document YAML (for kubectl apply -f -), or write ' +
        'one file per object to --out. Without --operator-key or a platform key, a new operator key is ' +
        'made and its private half kept in .breakfix/keys (or --out).',
    )
    .addOption(
      completes(new Option('--k8s <version>', 'Kubernetes release (required)'), {
        words: KUBERNETES_RELEASES.map((r) => r.minor),
      }),
    )
    .addOption(
      new Option('--workers <n>', 'worker nodes besides the control plane').default('0').argParser(wholeNumber()),
    )
    .addOption(new Option('--size <profile>', 'VM size profile').choices(Object.keys(SIZE_PROFILES)).default('medium'))
    .addOption(new Option('--cni <cni>', 'the lab cluster network plugin').choices(CNIS).default('flannel'))
    .option('--lab-id <id>', 'lab id (default: a random one)')
    .option('--platform <file>', 'platform config (YAML)')
    .option('--operator-key <file>', "the operator's SSH public key")
    .option('--out <dir>', 'write one file per object to this folder instead of stdout')
    .action((options: RenderOptions) => render(options));
  return examples(command, [
    'labctl render --k8s 1.36 --workers 2 > lab.yaml',
    'labctl render --k8s 1.34 --lab-id demo --out lab/',
    'labctl render --k8s 1.36 --platform platform.yaml --operator-key ~/.ssh/breakfix.pub | kubectl apply -f -',
  ]);
}

async function render(values: RenderOptions): Promise<void> {
  // loaded here: key generation takes a second to load, and --help should not wait for it
  const { createLabSecrets, createOperatorKey } = await import('@breakfix/secrets');
  if (values.k8s === undefined) throw new InvalidInputError('--k8s is required, e.g. --k8s 1.36');
  const workers = Number(values.workers);
  const labId = values.labId ?? `lab${randomBytes(3).toString('hex')}`;
  const spec = parseLabSpec({ labId, kubernetesVersion: values.k8s, workers, size: values.size, cni: values.cni });

  const platformInput = (values.platform === undefined ? {} : parse(readFileSync(values.platform, 'utf8'))) as Record<
    string,
    unknown
  >;
  const operator = (platformInput.operator ?? {}) as Record<string, unknown>;
  if (values.operatorKey !== undefined) operator.publicKey = readFileSync(values.operatorKey, 'utf8').trim();
  if (operator.publicKey === undefined) {
    // No platform key given: make one for this lab and keep its private half next to the output.
    const key = createOperatorKey();
    const dir = values.out ?? '.breakfix/keys';
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `${labId}_operator_ed25519`);
    writeFileSync(path, key.privateKey, { mode: 0o600 });
    chmodSync(path, 0o600);
    operator.publicKey = key.publicKey;
    process.stderr.write(`labctl: no --operator-key given; wrote a new operator key to ${path}\n`);
  }
  const platform = parsePlatformConfig({ ...platformInput, operator });

  const secrets = await createLabSecrets({ labId, nodes: labNodes(spec).map((n) => n.name) });
  const objects = renderLab(spec, platform, secrets);
  const violations = checkKubevirtRules(objects);
  if (violations.length > 0) {
    throw new InvalidInputError(
      `rendered objects break KubeVirt rules: ${violations.map((v) => `${v.object}: ${v.rule}`).join('; ')}`,
    );
  }

  if (values.out === undefined) {
    process.stdout.write(objects.map((object) => `---\n${stringify(object, { lineWidth: 0 })}`).join(''));
    return;
  }
  mkdirSync(values.out, { recursive: true });
  objects.forEach((object, index) => {
    const file = join(
      values.out as string,
      `${String(index).padStart(2, '0')}-${object.kind.toLowerCase()}-${object.metadata.name}.yaml`,
    );
    writeFileSync(file, stringify(object, { lineWidth: 0 }), { mode: object.kind === 'Secret' ? 0o600 : 0o644 });
  });
  process.stderr.write(`labctl: wrote ${objects.length} objects for lab ${labId} to ${values.out}\n`);
}
