import type { Cni } from '@breakfix/manifests';
import type { Scenario } from './schema.js';

/** What matching needs of a pool (packages/manifests/src/pools-config.ts has the full schema). */
export interface PoolShape {
  name: string;
  kubernetesVersion: string;
  workers: number;
  cni: Cni;
}

type Needs = Pick<Scenario, 'id' | 'kubernetesVersions' | 'topology' | 'cni'>;

/** `1.36.3` and `v1.36` both serve scenarios written for `1.36`. */
const minorOf = (version: string) => version.replace(/^v/, '').split('.').slice(0, 2).join('.');

/**
 * The pools that can serve a scenario, in config order: the same number of workers, the same
 * CNI, and a Kubernetes minor the scenario lists. Size does not matter (docs/adr/0009).
 */
export function poolsServing<P extends PoolShape>(scenario: Needs, pools: readonly P[]): P[] {
  return pools.filter(
    (pool) =>
      pool.workers === scenario.topology.workers &&
      pool.cni === scenario.cni &&
      scenario.kubernetesVersions.includes(minorOf(pool.kubernetesVersion)),
  );
}

/**
 * The pool an operator would add so that `scenario` can be claimed: its newest Kubernetes minor,
 * its workers and CNI, as a pools.yaml entry (min 0: labs boot when a learner asks).
 */
export function poolToAdd(scenario: Needs): PoolShape & { size: 'small'; min: number; max: number } {
  const version = scenario.kubernetesVersions.at(-1) ?? '';
  return {
    name: `k8s-${version}-${scenario.topology.workers}w-${scenario.cni}`,
    kubernetesVersion: version,
    workers: scenario.topology.workers,
    cni: scenario.cni,
    size: 'small',
    min: 0,
    max: 2,
  };
}

/** Why no pool serves `scenario`, and the pools.yaml entry that would: for a claim's error and for lint. */
export function noPoolMessage(scenario: Needs): { message: string; hint: string } {
  const pool = poolToAdd(scenario);
  return {
    message:
      `no pool serves scenario ${scenario.id} (Kubernetes ${scenario.kubernetesVersions.join(' or ')}, ` +
      `${scenario.topology.workers} worker(s), ${scenario.cni})`,
    hint:
      `add a pool to the pools file, e.g. { name: ${pool.name}, kubernetesVersion: "${pool.kubernetesVersion}", ` +
      `workers: ${pool.workers}, cni: ${pool.cni}, size: ${pool.size}, min: ${pool.min}, max: ${pool.max} }`,
  };
}
