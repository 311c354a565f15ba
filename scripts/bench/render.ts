import { performance } from 'node:perf_hooks';
import { labNodes, labsPerHost, parseLabSpec, parsePlatformConfig, renderLab } from '@breakfix/manifests';
import { createLabSecrets, createOperatorKey, type LabSecrets } from '@breakfix/secrets';
import type { Figure } from '../bench.js';
import { percentile, round } from './stats.js';

const LABS = 1000;

/** Rendering labs (pure), generating their secrets, and labs per 64 GiB host. */
export async function* benchRender(): AsyncGenerator<Figure> {
  const platform = parsePlatformConfig({ operator: { publicKey: createOperatorKey().publicKey } });
  const spec = parseLabSpec({ labId: 'bench', kubernetesVersion: '1.36', workers: 2 });
  const nodes = labNodes(spec).map((n) => n.name);

  const secretTimes: number[] = [];
  const secrets: LabSecrets[] = [];
  for (let i = 0; i < 50; i++) {
    const started = performance.now();
    secrets.push(await createLabSecrets({ labId: `bench${i}`, nodes }));
    secretTimes.push(performance.now() - started);
  }
  yield {
    name: 'secrets.create.3_node_lab.p50 (CA + token + 3 host keys)',
    value: round(percentile(secretTimes, 50), 2),
    unit: 'ms',
  };

  const secretFor = (i: number): LabSecrets => {
    const found = secrets[i % secrets.length];
    if (found === undefined) throw new Error('no secrets generated');
    return found;
  };
  const one: number[] = [];
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    renderLab(spec, platform, secretFor(i));
    one.push(performance.now() - started);
  }
  yield { name: 'render.3_node_lab.p50', value: round(percentile(one, 50), 3), unit: 'ms' };

  const started = performance.now();
  let objects = 0;
  for (let i = 0; i < LABS; i++) {
    const lab = parseLabSpec({ labId: `lab${i}`, kubernetesVersion: ['1.34', '1.35', '1.36'][i % 3], workers: i % 3 });
    objects += renderLab(lab, platform, secretFor(i)).length;
  }
  yield {
    name: `render.${LABS}_labs_mixed (${objects} objects)`,
    value: round(performance.now() - started),
    unit: 'ms',
  };

  const host = { memoryMiB: 64 * 1024 };
  for (const size of ['small', 'medium'] as const) {
    yield {
      name: `capacity.64GiB_host.${size}.3_node_labs`,
      value: labsPerHost(host, { workers: 2, size }).labs,
      unit: 'labs',
    };
    yield {
      name: `capacity.64GiB_host.${size}.1_node_labs`,
      value: labsPerHost(host, { workers: 0, size }).labs,
      unit: 'labs',
    };
  }
}
