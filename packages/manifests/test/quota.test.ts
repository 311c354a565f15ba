import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { createKube, type Kube, type KubeObject } from '@breakfix/kube';
import { pinnedNodePort, uniqueName, useSandbox } from '@breakfix/testkit';
import { isolationPolicies, LAUNCHER_SIDECARS, labNodes, podMemoryMiB, renderLab, sshService } from '../src/index.js';
import { fixtureSecrets, platform, spec } from './fixtures.js';

/**
 * A pod shaped like the virt-launcher KubeVirt makes for one VM (pkg/virt-controller/services/
 * template.go at KubeVirt's defaults): the compute container (the VM's CPU request; guest memory
 * plus overhead), the containerDisk's `volumeroot` container (1m, 1M), `guest-console-log` as a
 * sidecar (restartable init container: 5m, 35M), and the two init containers that copy the
 * container-disk binary (10m, 1M) and pre-pull the disk (1m, 1M).
 */
function launcherPod(namespace: string, node: ReturnType<typeof labNodes>[number], suffix = ''): KubeObject {
  const container = (name: string, cpu: string, memory: string, extra: Record<string, unknown> = {}) => ({
    name,
    image: 'example.invalid/virt-launcher:test',
    resources: { requests: { cpu, memory } },
    ...extra,
  });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `virt-launcher-${node.name}${suffix}`, namespace, labels: node.labels },
    spec: {
      initContainers: [
        container('guest-console-log', '5m', '35M', { restartPolicy: 'Always' }),
        container('container-disk-binary', '10m', '1M'),
        container('volumeroot-init', '1m', '1M'),
      ],
      containers: [
        container('compute', `${node.size.cpuRequestMilli}m`, `${podMemoryMiB(node.size)}Mi`),
        container('volumeroot', '1m', '1M'),
      ],
    },
  };
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
    for (const node of labNodes(labSpec)) {
      const created = await kube.apply(launcherPod(namespace, node));
      assert.equal(created.metadata.name, `virt-launcher-${node.name}`);
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
