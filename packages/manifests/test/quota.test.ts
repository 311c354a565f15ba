import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { createKube, type Kube, type KubeObject } from '@breakfix/kube';
import { launcherPod, type VirtualMachine, vmiFor } from '@breakfix/sandbox';
import { pinnedNodePort, uniqueName, useSandbox } from '@breakfix/testkit';
import { isolationPolicies, LAUNCHER_SIDECARS, renderLab, sshService } from '../src/index.js';
import { fixtureSecrets, platform, spec } from './fixtures.js';

/**
 * The virt-launcher pod KubeVirt makes for one rendered VM (the sandbox renders it as
 * virt-controller does), without an owner: no VMI is created here.
 */
function launcherPodOf(vm: KubeObject): KubeObject {
  const { ownerReferences: _, ...metadata } = launcherPod(vmiFor(vm as VirtualMachine)).metadata;
  return { ...launcherPod(vmiFor(vm as VirtualMachine)), metadata };
}

describe('the lab quota, enforced by a real apiserver and quota controller', () => {
  let kube: Kube;
  const labSpec = spec({ labId: uniqueName('quota').slice(0, 20), workers: 2, size: 'medium' });
  const objects = renderLab(labSpec, platform, fixtureSecrets(labSpec), { addons: [isolationPolicies] });
  const namespace = objects[0]?.metadata.name ?? '';

  before(async () => {
    kube = createKube({ kubeconfig: (await useSandbox()).info.kubeconfig });
    // Given a rendered lab without its VMs (nothing here would turn them into launcher pods)
    for (const object of objects.filter((o) => o.kind !== 'VirtualMachine')) await kube.apply(object);
    // and its quota counted by the quota controller (admission refuses everything until then)
    await waitFor(
      async () => {
        const quota = await kube.get<KubeObject & { status?: { hard?: Record<string, string> } }>({
          apiVersion: 'v1',
          kind: 'ResourceQuota',
          namespace,
          name: 'lab',
        });
        return quota?.status?.hard?.['requests.cpu'] === undefined ? undefined : true;
      },
      { what: 'the quota controller to count the lab quota', timeoutMs: 60_000, intervalMs: 200 },
    );
  });

  after(async () => {
    await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
  });

  test('admits one launcher-shaped pod per VM, sidecars included, and not a millicore more', async () => {
    // When every VM's virt-launcher pod is created
    for (const vm of objects.filter((o) => o.kind === 'VirtualMachine')) {
      const created = await kube.apply(launcherPodOf(vm));
      assert.match(created.metadata.name, new RegExp(`^virt-launcher-${vm.metadata.name}-[a-z0-9]{5}$`));
    }
    // Then the quota had room for each, and the CPU headroom is exactly KubeVirt's support containers
    assert.equal(LAUNCHER_SIDECARS.cpuMilli, 6);
    const extra: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'one-more', namespace },
      spec: { containers: [{ name: 'c', image: 'example.invalid/x:1', resources: { requests: { cpu: '1m' } } }] },
    };
    await assert.rejects(kube.apply(extra), /exceeded quota: lab.*requests\.cpu/s);
  });

  test("admits cp-api, every node's headless Service and the claim's NodePort", async () => {
    // The rendered Services are in (before()); the claim's SSH Service is the last one that fits
    const ssh = sshService({ labId: labSpec.labId, namespace, labels: {} }, pinnedNodePort('manifests-quota'));
    await kube.apply(ssh);
    const services = await kube.list('v1', 'Service', { namespace });
    assert.deepEqual(services.map((s) => s.metadata.name).sort(), ['cp', 'cp-api', 'ssh', 'w1', 'w2']);
    const another: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'another', namespace },
      spec: { clusterIP: 'None', selector: { a: 'b' }, ports: [{ port: 1 }] },
    };
    await assert.rejects(kube.apply(another), /exceeded quota: lab.*services/s);
  });
});
