import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createKube, type KubeObject } from '@breakfix/kube';
import { labNodes, parseLabSpec } from '@breakfix/manifests';
import { closeRedisConnections, uniqueName, useSandbox } from '@breakfix/testkit';
import { EnvironmentStore } from '../src/index.js';
import { deleteLabs, simulatedLabs } from './simulated-labs.js';

after(closeRedisConnections);

/**
 * The lab quota before it left room for KubeVirt's launcher support containers: the VMs' CPU
 * requests alone. On KubeVirt the second launcher pod is refused (`volume<name>` 1m and
 * `guest-console-log` 5m per VM do not fit), its VMI stays Pending, and the provisioner times out.
 */
const OLD_CPU_MILLI = labNodes(parseLabSpec({ labId: 'q', workers: 1 })).reduce(
  (sum, node) => sum + node.size.cpuRequestMilli,
  0,
);

function oldCpuQuota(objects: KubeObject[]): KubeObject[] {
  return objects.map((object) => {
    if (object.kind !== 'ResourceQuota') return object;
    const cpu = OLD_CPU_MILLI;
    const quota = object as KubeObject & { spec: { hard: Record<string, string> } };
    return { ...quota, spec: { hard: { ...quota.spec.hard, 'requests.cpu': `${cpu}m` } } };
  });
}

test("a lab rendered with the old CPU quota fails provisioning with the quota's own message; the fixed one boots", {
  timeout: 300_000,
}, async () => {
  const { info, redis } = await useSandbox();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const store = new EnvironmentStore({ redis: redis(), prefix: `${uniqueName('quota')}:` });
  const pool = uniqueName('p');
  try {
    // Given a 1+1 lab whose quota counts only the VMs' CPU (1500m for the default medium size)
    const old = simulatedLabs(kube, store, { decorate: oldCpuQuota, vmsRunningTimeoutMs: 60_000 });
    const id = uniqueName('e');

    // When it is provisioned, then it fails, and the reason is the apiserver's quota refusal
    assert.equal(
      await old.provisioner.provision({ id, pool, spec: parseLabSpec({ labId: id, workers: 1 }) }),
      'failed',
    );
    const reason = (await store.poolFailures())[pool]?.reason ?? '';
    const refused = new RegExp(
      '(cp|w1) \\(Pending: FailedCreate: failed to create virtual machine pod: pods "virt-launcher-(cp|w1)-[a-z0-9]{5}" ' +
        `is forbidden: exceeded quota: lab, requested: requests\\.cpu=\\d+m, used: requests\\.cpu=\\d+m, limited: requests\\.cpu=${OLD_CPU_MILLI}m\\)`,
    );
    assert.match(reason, refused);

    // And the same lab with the quota as rendered boots
    const fixed = simulatedLabs(kube, store);
    const next = uniqueName('e');
    assert.equal(
      await fixed.provisioner.provision({ id: next, pool, spec: parseLabSpec({ labId: next, workers: 1 }) }),
      'ready',
    );
  } finally {
    await deleteLabs(kube, store);
  }
});
