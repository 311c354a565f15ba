import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createKube, type KubeObject } from '@breakfix/kube';
import { parseLabSpec } from '@breakfix/manifests';
import { closeRedisConnections, SHARED_NODE_PORTS, uniqueName, useSandbox } from '@breakfix/testkit';
import { createLabAccess, EnvironmentStore, NodePortAllocator, PoolExhaustedError } from '../src/index.js';
import { deleteLabs, simulatedLabs } from './simulated-labs.js';

after(closeRedisConnections);

const LABS = 50;
const LEARNERS = 200;

test('200 learners claim 50 real labs at once: 50 get distinct labs, 150 are queued, and the cluster agrees', async () => {
  const { info, redis } = await useSandbox();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const prefix = `${uniqueName('race')}:`;
  const store = new EnvironmentStore({ redis: redis(), prefix });
  const pool = uniqueName('p');
  const { operatorKey, platform, ssh, provisioner } = simulatedLabs(kube, store, { probeIntervalMs: 250 });
  try {
    // Given a warm pool of 50 single-VM labs
    const outcomes = await Promise.all(
      Array.from({ length: LABS }, () => {
        const id = uniqueName('e');
        return provisioner.provision({
          id,
          pool,
          spec: parseLabSpec({ labId: id, kubernetesVersion: '1.36', size: 'small' }),
        });
      }),
    );
    assert.deepEqual(new Set(outcomes), new Set(['ready']));

    // When 200 learners claim at once through the full claim path (NodePort, key, a trivial break)
    const access = createLabAccess({
      kube,
      store,
      allocator: new NodePortAllocator({ redis: redis(), prefix, range: SHARED_NODE_PORTS }),
      ssh,
      platform,
      operatorKey,
      publicHost: 'labs.example.test',
    });
    const results = await Promise.allSettled(
      Array.from({ length: LEARNERS }, (_, i) =>
        access.claim({
          pool,
          learner: `learner-${i}`,
          scenario: 'trivial',
          ttlMs: 600_000,
          prepare: async (lab) => {
            if (lab.nodes.cp !== undefined) await ssh.exec(lab.nodes.cp, 'true', { sudo: true });
          },
        }),
      ),
    );

    // Then 50 succeed with 50 distinct labs and NodePorts, and 150 are told their place in the queue
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    assert.equal(won.length, LABS);
    assert.equal(new Set(won.map((c) => c.environment.id)).size, LABS);
    assert.equal(new Set(won.map((c) => c.connection.port)).size, LABS);
    assert.equal(refused.length, LEARNERS - LABS);
    assert.ok(refused.every((e) => e instanceof PoolExhaustedError));
    assert.deepEqual(
      refused.map((e) => (e as PoolExhaustedError).queuePosition).sort((a, b) => a - b),
      Array.from({ length: LEARNERS - LABS }, (_, i) => i + 1),
    );

    // Redis: every claimed record has one learner, who holds exactly that lab
    const claimed = (await store.list()).filter((e) => e.state === 'claimed');
    assert.equal(claimed.length, LABS);
    for (const env of claimed) assert.equal((await store.heldBy(env.learner ?? ''))?.id, env.id);
    // The cluster: exactly one SSH Service per claimed lab, on the port that lab's learner was given
    const services = await kube.list<KubeObject & { spec: { ports: { nodePort: number }[] } }>('v1', 'Service', {
      labelSelector: 'breakfix.dev/exposure=ssh',
    });
    const ours = new Map(claimed.map((env) => [env.namespace, env]));
    const exposed = services.filter((s) => ours.has(s.metadata.namespace ?? ''));
    assert.equal(exposed.length, LABS);
    for (const service of exposed) {
      const env = ours.get(service.metadata.namespace ?? '');
      assert.equal(service.spec.ports[0]?.nodePort, env?.access?.port);
    }
  } finally {
    await deleteLabs(kube, store);
  }
});
