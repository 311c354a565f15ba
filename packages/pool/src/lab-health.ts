import { ConflictError } from '@breakfix/core';
import type { Kube } from '@breakfix/kube';
import type { Environment, EnvironmentStore } from './environment-store.js';
import { runningNode, type Vmi } from './lab-vmis.js';

/** A lab whose VMs are no longer the ones that were booted and checked. */
export interface LostLab {
  id: string;
  reason: string;
  /** `failed`: a ready lab, failed for teardown. `flagged`: a claimed lab, flagged for attention. */
  outcome: 'failed' | 'flagged';
}

/**
 * Why a lab's VMs can no longer be trusted, or undefined while every node's VMI is the one the
 * lab became ready on, Running with an address. Labs run with `runStrategy: Once`, so KubeVirt
 * does not restart a VMI that ended; but it does start a new one when the VMI is deleted, from a
 * fresh containerDisk: a new uid is as lost as a missing VMI (docs/adr/0012).
 */
export function lostReason(env: Environment, vmis: ReadonlyMap<string, Vmi>): string | undefined {
  const problems: string[] = [];
  for (const [node, uid] of Object.entries(env.vmis ?? {})) {
    const vmi = vmis.get(node);
    if (vmi === undefined) problems.push(`VMI ${node} is gone`);
    else if (vmi.metadata.uid !== uid) problems.push(`VMI ${node} was replaced (a fresh disk)`);
    // KubeVirt's finalizers hold a deleted VMI, still Running, until its guest has stopped.
    else if (vmi.metadata.deletionTimestamp !== undefined) problems.push(`VMI ${node} is being deleted`);
    else if (vmi.status?.phase !== 'Running') problems.push(`VMI ${node} is ${vmi.status?.phase ?? 'in no phase'}`);
    else if (runningNode(vmi) === undefined) problems.push(`VMI ${node} has no address`);
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}

/**
 * Checks every ready and claimed lab against its VMIs (one cluster-wide list). A ready lab that
 * lost a VM is failed (the caller tears it down, the pool makes another); a claimed one is
 * flagged for an operator's attention, as a check that loses the lab does: the learner's work is
 * there, and only a person should end it. A lab claimed while we looked is flagged, not failed.
 */
export async function checkLabVms(
  kube: Kube,
  store: EnvironmentStore,
  environments: readonly Environment[],
  log: (message: string) => void = () => {},
): Promise<LostLab[]> {
  const watched = environments.filter(
    (env) => (env.state === 'ready' || env.state === 'claimed') && env.vmis !== undefined,
  );
  if (watched.length === 0) return [];
  const all = await kube.list<Vmi>('kubevirt.io/v1', 'VirtualMachineInstance', {
    labelSelector: 'app.kubernetes.io/managed-by=breakfix,breakfix.dev/lab',
  });
  const byNamespace = new Map<string, Map<string, Vmi>>();
  for (const vmi of all) {
    const namespace = vmi.metadata.namespace ?? '';
    const vmis = byNamespace.get(namespace) ?? new Map<string, Vmi>();
    vmis.set(vmi.metadata.name, vmi);
    byNamespace.set(namespace, vmis);
  }

  const lost: LostLab[] = [];
  for (const env of watched) {
    const reason = lostReason(env, byNamespace.get(env.namespace) ?? new Map());
    if (reason === undefined) continue;
    if (env.state === 'ready') {
      const failed = await store.apply(env.id, 'fail').then(
        () => true,
        (error: unknown) => {
          if (error instanceof ConflictError) return false; // claimed (or gone) meanwhile
          throw error;
        },
      );
      if (failed) {
        log(`lab ${env.id} failed: ${reason}`);
        lost.push({ id: env.id, reason, outcome: 'failed' });
        continue;
      }
      const now = await store.get(env.id);
      if (now.state !== 'claimed') continue;
    }
    if (env.attention?.reason === reason) continue; // already flagged for this
    await store.flagAttention(env.id, reason);
    log(`lab ${env.id} needs attention: ${reason}`);
    lost.push({ id: env.id, reason, outcome: 'flagged' });
  }
  return lost;
}
