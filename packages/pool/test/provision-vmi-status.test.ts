import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { createKube } from '@breakfix/kube';
import { parseLabSpec, vmiAddress } from '@breakfix/manifests';
import { ANNOTATION_ADDRESS_DELAY, ANNOTATION_BOOTSTRAP, annotateVms } from '@breakfix/sandbox';
import { closeRedisConnections, uniqueName, useSandbox } from '@breakfix/testkit';
import { EnvironmentStore, listLabVmis } from '../src/index.js';
import { deleteLabs, simulatedLabs } from './simulated-labs.js';

after(closeRedisConnections);

test('the provisioner waits for the address KubeVirt reports after Running, and boots the lab there', {
  timeout: 300_000,
}, async () => {
  // Given VMs whose address comes 3 s after their VMI is Running (as KubeVirt may report it)
  const { info, redis } = await useSandbox();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const store = new EnvironmentStore({ redis: redis(), prefix: `${uniqueName('late')}:` });
  try {
    const { provisioner } = simulatedLabs(kube, store, {
      decorate: annotateVms({ [ANNOTATION_ADDRESS_DELAY]: '3000' }),
    });
    const id = uniqueName('e');

    // When the lab is provisioned, then it is ready
    const outcome = await provisioner.provision({
      id,
      pool: uniqueName('p'),
      spec: parseLabSpec({ labId: id, workers: 1 }),
    });
    assert.equal(outcome, 'ready', JSON.stringify(await store.poolFailures()));

    // And every node was recorded at the address its VMI reports, not an empty one read at Running
    const env = await store.get(id);
    const vmis = await listLabVmis(kube, env.namespace);
    for (const node of ['cp', 'w1']) {
      const address = env.nodes?.[node]?.address;
      assert.match(address ?? '', /^127\.\d+\.\d+\.\d+$/, `${node} has an address`);
      assert.equal(address, vmiAddress(vmis.get(node)));
    }
  } finally {
    await deleteLabs(kube, store);
  }
});

test('a VMI that vanishes while the lab boots fails the lab at once, naming it', { timeout: 300_000 }, async () => {
  // Given a lab whose node bootstrap takes long enough to lose a VM meanwhile
  const { info, redis } = await useSandbox();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const store = new EnvironmentStore({ redis: redis(), prefix: `${uniqueName('gone')}:` });
  const pool = uniqueName('p');
  try {
    const lines: string[] = [];
    const { provisioner } = simulatedLabs(kube, store, {
      decorate: annotateVms({ [ANNOTATION_BOOTSTRAP]: '120000' }),
      log: (line) => lines.push(line),
    });
    const id = uniqueName('e');
    const started = Date.now();
    const provisioning = provisioner.provision({ id, pool, spec: parseLabSpec({ labId: id, workers: 1 }) });

    // When w1's VMI is deleted once the provisioner saw both run with an address (runStrategy
    // Once starts a new one, from a fresh disk)
    const namespace = provisioner.namespaceFor(id);
    await waitFor(
      async () => (lines.some((line) => line.includes('every VM runs with an address')) ? true : undefined),
      {
        what: 'the provisioner to see every VM run',
        timeoutMs: 120_000,
        intervalMs: 100,
      },
    );
    await kube.delete({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', namespace, name: 'w1' });

    // Then the lab fails well before the bootstrap could finish, and the reason names the VMI
    assert.equal(await provisioning, 'failed');
    assert.ok(Date.now() - started < 120_000, 'failed at once, not at a deadline');
    const reason = (await store.poolFailures())[pool]?.reason ?? '';
    assert.match(
      reason,
      /VMI w1 (vanished|was replaced \(a fresh disk\)|is being deleted) while e-[0-9a-f]+ was provisioning/,
    );
  } finally {
    await deleteLabs(kube, store);
  }
});
