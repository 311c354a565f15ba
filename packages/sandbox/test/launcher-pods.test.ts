import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { createKube, type Kube, type KubeObject } from '@breakfix/kube';
import { launcherMemoryOverheadBytes, vmiAddress } from '@breakfix/manifests';
import { uniqueName, useSandbox } from '@breakfix/testkit';
import { cloudInitSecret, keyPair, namespace, userData, virtualMachine } from './fixtures.js';

type Condition = { type: string; status: string; reason?: string; message?: string };
interface Pod extends KubeObject {
  spec?: {
    nodeName?: string;
    nodeSelector?: Record<string, string>;
    containers?: { name: string; resources?: { requests?: Record<string, string> } }[];
    initContainers?: { name: string; restartPolicy?: string; resources?: { requests?: Record<string, string> } }[];
  };
  status?: { phase?: string; podIP?: string; hostIP?: string; conditions?: Condition[] };
}
interface Vmi extends KubeObject {
  status?: {
    phase?: string;
    nodeName?: string;
    interfaces?: { name?: string; ipAddress?: string }[];
    conditions?: Condition[];
  };
}
interface Node extends KubeObject {
  status?: { addresses?: { type: string; address: string }[]; allocatable?: Record<string, string> };
}

const adminKube = async () => createKube({ kubeconfig: (await useSandbox()).info.kubeconfig });
const vmiRef = (ns: string) => ({
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  namespace: ns,
  name: 'cp',
});

/** A VM (2 vCPU, 2Gi, one containerDisk) in a namespace of its own; `edit` changes its template spec. */
async function vmIn(kube: Kube, edit: (spec: Record<string, unknown>) => void = () => {}) {
  const ns = uniqueName('pod');
  await kube.apply(namespace(ns));
  await kube.apply(
    cloudInitSecret(
      ns,
      'cp-cloud-init',
      userData({ hostKey: keyPair('host'), users: { breakfix: [keyPair().public] } }),
    ),
  );
  const vm = virtualMachine(ns, 'cp', { secret: 'cp-cloud-init' }) as KubeObject & {
    spec: { template: { spec: Record<string, unknown> } };
  };
  edit(vm.spec.template.spec);
  await kube.apply(vm);
  return ns;
}

async function vmiWhere(kube: Kube, ns: string, what: string, check: (vmi: Vmi) => boolean): Promise<Vmi> {
  return await waitFor(
    async () => {
      const vmi = await kube.get<Vmi>(vmiRef(ns));
      return vmi !== undefined && check(vmi) ? vmi : undefined;
    },
    { what, timeoutMs: 60_000 },
  );
}

describe('virt-launcher pods and nodes, as KubeVirt makes them', () => {
  test('host nodes carry addresses and the kubevirt.io/schedulable label', { timeout: 30_000 }, async () => {
    const kube = await adminKube();
    const nodes = await kube.list<Node>('v1', 'Node', { labelSelector: 'kubevirt.io/schedulable=true' });
    assert.ok(nodes.length > 0, 'schedulable nodes exist');
    for (const node of nodes) {
      const types = (node.status?.addresses ?? []).map((a) => a.type);
      assert.ok(types.includes('InternalIP') && types.includes('ExternalIP'), `${node.metadata.name}: ${types}`);
      assert.ok(node.status?.allocatable?.['devices.kubevirt.io/kvm'], 'the KVM device is allocatable');
    }
  });

  test("a Running VMI has KubeVirt's launcher pod: containers, requests, labels, node and address", {
    timeout: 240_000,
  }, async () => {
    // Given a VM with 2 vCPU, 2Gi requested, a containerDisk and a cloud-init Secret
    const kube = await adminKube();
    const ns = await vmIn(kube);

    // When it runs and reports its address
    const vmi = await vmiWhere(
      kube,
      ns,
      'VMI Running with an address',
      (v) => v.status?.phase === 'Running' && vmiAddress(v) !== undefined,
    );

    // Then one launcher pod, owned by the VMI, laid out as virt-controller renders it
    const pods = await kube.list<Pod>('v1', 'Pod', { namespace: ns });
    assert.equal(pods.length, 1);
    const pod = pods[0] as Pod;
    assert.match(pod.metadata.name, /^virt-launcher-cp-[a-z0-9]{5}$/);
    assert.equal(pod.metadata.ownerReferences?.[0]?.uid, vmi.metadata.uid);
    assert.deepEqual(
      pod.spec?.containers?.map((c) => c.name),
      ['compute', 'volumeroot'],
    );
    assert.deepEqual(
      pod.spec?.initContainers?.map((c) => `${c.name}${c.restartPolicy === 'Always' ? ' (sidecar)' : ''}`),
      ['guest-console-log (sidecar)', 'container-disk-binary', 'volumeroot-init'],
    );
    // The compute container asks for the VM's CPU and its memory plus what KubeVirt adds (2Gi guest,
    // 2 vCPU: page tables 4Mi + 240Mi processes + 16Mi vCPUs + 8Mi IO thread + 32Mi video)
    const compute = pod.spec?.containers?.[0]?.resources?.requests ?? {};
    assert.equal(compute.cpu, '1');
    const overhead = launcherMemoryOverheadBytes({
      domain: { cpu: { cores: 2 }, resources: { requests: { memory: '2Gi' } } },
    });
    assert.equal(overhead, 4_194_304 + 296 * 1024 * 1024);
    assert.equal(Number(compute.memory), 2 * 1024 ** 3 + overhead);
    assert.equal(pod.spec?.initContainers?.[0]?.resources?.requests?.cpu, '5m');
    assert.equal(pod.spec?.containers?.[1]?.resources?.requests?.cpu, '1m');
    // The template's labels, KubeVirt's own, a schedulable node, the guest's address
    assert.equal(pod.metadata.labels?.['breakfix.dev/role'], 'control-plane');
    assert.equal(pod.metadata.labels?.['kubevirt.io'], 'virt-launcher');
    assert.equal(pod.metadata.labels?.['kubevirt.io/created-by'], vmi.metadata.uid);
    assert.equal(pod.spec?.nodeSelector?.['kubevirt.io/schedulable'], 'true');
    assert.equal(pod.spec?.nodeName, vmi.status?.nodeName);
    const node = await kube.get<Node>({ apiVersion: 'v1', kind: 'Node', name: pod.spec?.nodeName ?? '' });
    assert.equal(node?.metadata.labels?.['kubevirt.io/schedulable'], 'true');
    // The pod's address is on the pod network (what EndpointSlices publish); the VMI reports the
    // loopback address the platform can dial, which that pod address maps to (ADR 0031)
    assert.match(pod.status?.podIP ?? '', /^10\.244\.\d+\.\d+$/);
    assert.match(vmiAddress(vmi) ?? '', /^127\./);
    assert.equal(pod.status?.hostIP, node?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address);
    assert.equal(pod.status?.phase, 'Running');
    assert.equal(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');

    // And deleting the namespace ends the pod too, as a kubelet would (no pod left Terminating).
    // The launcher's 30 s grace period paces the namespace controller, as on KubeVirt.
    await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: ns });
    await waitFor(
      async () =>
        (await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: ns })) === undefined ? true : undefined,
      { what: 'the namespace to be gone', timeoutMs: 120_000, intervalMs: 250 },
    );
  });

  test("a nodeSelector no node matches leaves the VMI Scheduling with the scheduler's reason", {
    timeout: 60_000,
  }, async () => {
    const kube = await adminKube();
    const ns = await vmIn(kube, (spec) => {
      spec.nodeSelector = { 'example.com/gpu': 'true' };
    });
    const vmi = await vmiWhere(kube, ns, 'VMI unschedulable', (v) =>
      (v.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable'),
    );
    assert.equal(vmi.status?.phase, 'Scheduling');
    assert.match(
      vmi.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message ?? '',
      /^0\/\d+ nodes are available: \d+ node\(s\) didn't match Pod's node affinity\/selector\.$/,
    );
    // The VM's status follows the VMI's, in a later update
    await waitFor(
      async () => {
        const vm = await kube.get<KubeObject & { status?: { printableStatus?: string } }>({
          ...vmiRef(ns),
          kind: 'VirtualMachine',
        });
        return vm?.status?.printableStatus === 'ErrorUnschedulable' ? true : undefined;
      },
      { what: 'VM ErrorUnschedulable', timeoutMs: 60_000 },
    );
    const pod = (await kube.list<Pod>('v1', 'Pod', { namespace: ns }))[0];
    assert.equal(pod?.spec?.nodeName, undefined, 'the pod is not bound');
    await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: ns });
  });

  test('a VM asking for more memory than any node has stays Scheduling: Insufficient memory', {
    timeout: 60_000,
  }, async () => {
    const kube = await adminKube();
    const ns = await vmIn(kube, (spec) => {
      const domain = spec.domain as { memory: unknown; resources: unknown };
      domain.memory = { guest: '4Ti' };
      domain.resources = { requests: { memory: '4Ti', cpu: '1' } };
    });
    const vmi = await vmiWhere(kube, ns, 'VMI unschedulable', (v) =>
      (v.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable'),
    );
    assert.match(
      vmi.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message ?? '',
      /^0\/\d+ nodes are available: \d+ Insufficient memory\.$/,
    );
    await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: ns });
  });
});
