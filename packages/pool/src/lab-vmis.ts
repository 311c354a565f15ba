import { waitFor } from '@breakfix/core';
import type { Kube, KubeObject } from '@breakfix/kube';
import { type VmiStatus, vmiAddress } from '@breakfix/manifests';

export interface Vmi extends KubeObject {
  status?: VmiStatus;
}

/** A node's running VMI as breakfix uses it: where to reach it, and which boot it is. */
export interface NodeVmi {
  /** The guest's address on the pod network (the `default` interface). */
  address: string;
  /** The VMI's uid: a new uid is a new boot from a fresh disk. */
  uid: string;
  /** The host node running it, once scheduled. */
  nodeName?: string;
}

/** The VMIs of a lab namespace, by name (= node name). */
export async function listLabVmis(kube: Kube, namespace: string): Promise<Map<string, Vmi>> {
  const vmis = await kube.list<Vmi>('kubevirt.io/v1', 'VirtualMachineInstance', { namespace });
  return new Map(vmis.map((vmi) => [vmi.metadata.name, vmi]));
}

/** The node's VMI if it is Running, not being deleted, and has an address on its `default` interface. */
export function runningNode(vmi: Vmi | undefined): NodeVmi | undefined {
  const address = vmiAddress(vmi);
  if (vmi?.status?.phase !== 'Running' || address === undefined) return undefined;
  // Held by KubeVirt's finalizers while its guest stops: still Running, but going.
  if (vmi.metadata.deletionTimestamp !== undefined) return undefined;
  return {
    address,
    uid: vmi.metadata.uid ?? '',
    ...(vmi.status.nodeName === undefined ? {} : { nodeName: vmi.status.nodeName }),
  };
}

/**
 * How the nodes' VMIs differ from the ones in `booted` (each node's VMI by uid): gone, replaced
 * by another VMI (a fresh disk), or no longer Running; undefined while all are the same.
 */
export function changedNodes(
  booted: Readonly<Record<string, Pick<NodeVmi, 'uid'>>>,
  vmis: ReadonlyMap<string, Vmi>,
): string | undefined {
  const changes = Object.entries(booted).flatMap(([node, { uid }]) => {
    const vmi = vmis.get(node);
    if (vmi === undefined) return [`VMI ${node} vanished`];
    if (vmi.metadata.uid !== uid) return [`VMI ${node} was replaced (a fresh disk)`];
    if (vmi.metadata.deletionTimestamp !== undefined) return [`VMI ${node} is being deleted`];
    if (vmi.status?.phase !== 'Running') return [`VMI ${node} is ${vmi.status?.phase ?? 'in no phase'}`];
    return [];
  });
  return changes.length === 0 ? undefined : changes.join('; ');
}

/**
 * Why a node's VMI is not usable yet, as KubeVirt says it: its phase and the message of a failing
 * condition (a launcher pod the quota refused: `Synchronized` FailedCreate; no node with room:
 * `PodScheduled` Unschedulable).
 */
export function whyNotRunning(vmi: Vmi | undefined): string {
  if (vmi === undefined) return 'no VMI';
  if (vmi.metadata.deletionTimestamp !== undefined) return 'being deleted';
  const phase = vmi.status?.phase ?? 'no phase';
  const conditions = (vmi.status as { conditions?: { status?: string; reason?: string; message?: string }[] })
    ?.conditions;
  const failing = conditions?.find((c) => c.status === 'False' && c.message !== undefined && c.message !== '');
  if (failing !== undefined) return `${phase}: ${failing.reason ?? 'False'}: ${failing.message}`;
  return phase === 'Running' ? 'Running, no address yet' : phase;
}

/**
 * Waits until the VMI of every node in `nodes` is Running with a non-empty address on its
 * `default` interface (the address may come after Running: KubeVirt learns it from the guest),
 * then returns them by node name. Throws DeadlineExceededError naming the nodes still missing and
 * what KubeVirt reports of each.
 */
export async function waitForNodes(
  kube: Kube,
  namespace: string,
  nodes: readonly string[],
  options: { what: string; timeoutMs: number; intervalMs?: number; signal?: AbortSignal | undefined },
): Promise<Record<string, NodeVmi>> {
  return await waitFor(
    async () => {
      const vmis = await listLabVmis(kube, namespace);
      const found: Record<string, NodeVmi> = {};
      const missing: string[] = [];
      for (const name of nodes) {
        const vmi = vmis.get(name);
        const node = runningNode(vmi);
        if (node === undefined) missing.push(`${name} (${whyNotRunning(vmi)})`);
        else found[name] = node;
      }
      if (missing.length > 0) throw new Error(`not yet running with an address: ${missing.join(', ')}`);
      return found;
    },
    { what: options.what, timeoutMs: options.timeoutMs, intervalMs: options.intervalMs ?? 500, signal: options.signal },
  );
}
