import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidInputError } from '@breakfix/core';
import { checkKubevirtRules, labNodes, parseLabSpec, parsePlatformConfig, renderLab } from '@breakfix/manifests';
import { createLabSecrets, createOperatorKey } from '@breakfix/secrets';
import { parse, stringify } from 'yaml';

export async function render(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      k8s: { type: 'string' },
      workers: { type: 'string', default: '0' },
      size: { type: 'string', default: 'medium' },
      cni: { type: 'string', default: 'flannel' },
      'lab-id': { type: 'string' },
      platform: { type: 'string' },
      'operator-key': { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  if (values.k8s === undefined) throw new InvalidInputError('--k8s is required, e.g. --k8s 1.36');
  const workers = Number(values.workers);
  const labId = values['lab-id'] ?? `lab${randomBytes(3).toString('hex')}`;
  const spec = parseLabSpec({ labId, kubernetesVersion: values.k8s, workers, size: values.size, cni: values.cni });

  const platformInput = (values.platform === undefined ? {} : parse(readFileSync(values.platform, 'utf8'))) as Record<
    string,
    unknown
  >;
  const operator = (platformInput.operator ?? {}) as Record<string, unknown>;
  if (values['operator-key'] !== undefined) operator.publicKey = readFileSync(values['operator-key'], 'utf8').trim();
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
