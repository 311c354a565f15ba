import { performance } from 'node:perf_hooks';
import { labNodes, labsPerHost, parseLabSpec, parsePlatformConfig, renderLab } from '@breakfix/manifests';
import { createLabSecrets, createOperatorKey, type LabSecrets } from '@breakfix/secrets';
import type { BenchSettings } from '../bench.js';
import { type Figure, latency, value } from './stats.js';

const LABS = 1000;

/** Rendering labs (pure), generating their secrets, and labs per 64 GiB host. */
export async function* benchRender(_settings: BenchSettings): AsyncGenerator<Figure> {
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
  yield latency('secrets.create.3_node_lab (CA + token + 3 host keys)', secretTimes, { digits: 2 });

  const secretFor = (i: number): LabSecrets => {
    const found = secrets[i % secrets.length];
    if (found === undefined) throw new Error('no secrets generated');
    return found;
  };
  const one: number[] = [];
  for (let i = 0; i < 20; i++) renderLab(spec, platform, secretFor(i)); // warm-up, not measured
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    renderLab(spec, platform, secretFor(i));
    one.push(performance.now() - started);
  }
  yield latency('render.3_node_lab', one, { digits: 3 });

  const started = performance.now();
  let objects = 0;
  for (let i = 0; i < LABS; i++) {
    const lab = parseLabSpec({ labId: `lab${i}`, kubernetesVersion: ['1.34', '1.35', '1.36'][i % 3], workers: i % 3 });
    objects += renderLab(lab, platform, secretFor(i)).length;
  }
  yield value(`render.${LABS}_labs_mixed (${objects} objects, one run)`, performance.now() - started, 'ms', {
    n: LABS,
  });

  const host = { memoryMiB: 64 * 1024 };
  for (const size of ['small', 'medium'] as const) {
    yield value(
      `capacity.64GiB_host.${size}.3_node_labs (computed)`,
      labsPerHost(host, { workers: 2, size }).labs,
      'labs',
    );
    yield value(
      `capacity.64GiB_host.${size}.1_node_labs (computed)`,
      labsPerHost(host, { workers: 0, size }).labs,
      'labs',
    );
  }
}
