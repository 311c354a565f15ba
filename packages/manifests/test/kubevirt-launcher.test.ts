import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  LAUNCHER_SIDECARS,
  launcherMemoryOverheadBytes,
  parseQuantity,
  renderLab,
  SIZE_PROFILES,
  type SizeProfileName,
  VM_OVERHEAD_MIB,
  type VmiSpecForOverhead,
} from '../src/index.js';
import { fixtureSecrets, platform, spec } from './fixtures.js';

const MI = 1024 * 1024;
const twoGi = { cpu: { cores: 2 }, resources: { requests: { memory: '2Gi' } } };

describe("KubeVirt's launcher numbers", () => {
  // Expected values worked by hand from KvmHypervisorBackend.GetMemoryOverhead: page tables are
  // floor(ceil(bytes / 1000) * 1000 / 512); 2Gi gives 4194304.
  const cases: [string, VmiSpecForOverhead, number][] = [
    ['2Gi, 2 vCPU: page tables + 240Mi + 2 x 8Mi + 8Mi + 32Mi video', { domain: twoGi }, 4_194_304 + 296 * MI],
    [
      'the same without a graphics device',
      { domain: { ...twoGi, devices: { autoattachGraphicsDevice: false } } },
      4_194_304 + 264 * MI,
    ],
    [
      'an exec readiness probe adds 10Mi + 100Mi',
      { domain: twoGi, readinessProbe: { exec: {} } },
      4_194_304 + 406 * MI,
    ],
    ['a TCP readiness probe adds nothing', { domain: twoGi, readinessProbe: {} }, 4_194_304 + 296 * MI],
    [
      'no CPU topology: the CPU request, rounded up',
      { domain: { resources: { requests: { cpu: '2500m' } } } },
      304 * MI,
    ],
  ];
  for (const [name, given, expected] of cases) {
    test(name, () => assert.equal(launcherMemoryOverheadBytes(given), expected));
  }

  test('the support containers request 6m CPU and 35 MiB (36M) per VM', () => {
    assert.deepEqual({ ...LAUNCHER_SIDECARS }, { cpuMilli: 6, memoryMiB: 35 });
  });

  test("the overhead the lab quota counts covers KubeVirt's for every rendered VM of every size", () => {
    for (const size of Object.keys(SIZE_PROFILES) as SizeProfileName[]) {
      const s = spec({ size, workers: 2 });
      for (const vm of renderLab(s, platform, fixtureSecrets(s)).filter((o) => o.kind === 'VirtualMachine')) {
        const template = (vm.spec as { template: { spec: VmiSpecForOverhead } }).template.spec;
        const overhead = launcherMemoryOverheadBytes(template);
        assert.ok(overhead <= VM_OVERHEAD_MIB * MI, `${size} ${vm.metadata.name}: ${overhead / MI} MiB`);
      }
    }
  });

  test('quantities parse as Kubernetes writes them', () => {
    assert.deepEqual(
      ['2Gi', '500m', '35M', '1', '1.5Ki'].map((q) => parseQuantity(q)),
      [2 * 1024 ** 3, 0.5, 35_000_000, 1, 1536],
    );
    assert.throws(() => parseQuantity('2 GB'), /not a Kubernetes quantity/);
  });
});
