import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { noPoolMessage, type PoolShape, poolsServing, poolToAdd } from '../src/index.js';

const pool = (name: string, workers: number, cni: PoolShape['cni'], kubernetesVersion = '1.36'): PoolShape => ({
  name,
  kubernetesVersion,
  workers,
  cni,
});
const POOLS = [
  pool('k8s-1.35-1w', 1, 'flannel', '1.35'),
  pool('k8s-1.36-1w', 1, 'flannel', 'v1.36.3'),
  pool('k8s-1.36-1w-calico', 1, 'calico'),
  pool('k8s-1.36-0w', 0, 'flannel'),
];
const scenario = (workers: number, cni: PoolShape['cni'], kubernetesVersions = ['1.36']) => ({
  id: 'netpol-deny-all',
  kubernetesVersions,
  topology: { workers },
  cni,
});

describe('pool selection', () => {
  const cases: [string, ReturnType<typeof scenario>, string[]][] = [
    ['same workers, same CNI, a listed minor (patch and v prefix ignored)', scenario(1, 'flannel'), ['k8s-1.36-1w']],
    ['a Calico scenario only from the Calico pool', scenario(1, 'calico'), ['k8s-1.36-1w-calico']],
    ['every listed minor, in config order', scenario(1, 'flannel', ['1.35', '1.36']), ['k8s-1.35-1w', 'k8s-1.36-1w']],
    ['no pool of that topology and CNI', scenario(0, 'calico'), []],
  ];
  for (const [what, needs, expected] of cases)
    test(what, { timeout: 5_000 }, () => {
      assert.deepEqual(
        poolsServing(needs, POOLS).map((p) => p.name),
        expected,
      );
    });
});

test('a scenario no pool serves says which pool to add', { timeout: 5_000 }, () => {
  const needs = scenario(0, 'calico', ['1.35', '1.36']);
  assert.deepEqual(noPoolMessage(needs), {
    message: 'no pool serves scenario netpol-deny-all (Kubernetes 1.35 or 1.36, 0 worker(s), calico)',
    hint: 'add a pool to the pools file, e.g. { name: k8s-1.36-0w-calico, kubernetesVersion: "1.36", workers: 0, cni: calico, size: small, min: 0, max: 2 }',
  });
  // And the pool it suggests does serve the scenario
  assert.deepEqual(poolsServing(needs, [poolToAdd(needs)]).length, 1);
});
