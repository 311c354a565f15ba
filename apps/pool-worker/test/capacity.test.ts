import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createKube, type KubeObject } from '@breakfix/kube';
import { labFootprint, parsePoolsConfig } from '@breakfix/manifests';
import { EnvironmentStore } from '@breakfix/pool';
import { uniqueName, useSandbox } from '@breakfix/testkit';
import { Redis } from 'ioredis';
import { deleteLabs, simulatedLabs } from '../../../packages/pool/test/simulated-labs.js';
import { createPoolWorker } from '../src/create-pool-worker.js';

const connections: Redis[] = [];
after(() => {
  for (const connection of connections) connection.disconnect();
});

test('the capacity guard never provisions past what the VM nodes can hold', async () => {
  const { info } = await useSandbox();
  const connect = () => {
    const redis = new Redis(info.redisUrl, { maxRetriesPerRequest: null });
    connections.push(redis);
    return redis;
  };
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const prefix = uniqueName('cap');
  const footprint = labFootprint({ workers: 0, size: 'small' });
  // Given two VM nodes with room for 3.5 labs, one cordoned node, and a pod that is not a lab's
  const selector = { 'kubevirt.io/schedulable': 'true', 'breakfix.test/capacity': prefix };
  const nodes = [
    { name: `${prefix}-a`, memoryMiB: 2 * footprint.memoryMiB, unschedulable: false },
    { name: `${prefix}-b`, memoryMiB: 1.5 * footprint.memoryMiB, unschedulable: false },
    { name: `${prefix}-c`, memoryMiB: 10 * footprint.memoryMiB, unschedulable: true },
  ];
  const created: KubeObject[] = [];
  try {
    for (const node of nodes) {
      const object = await kube.apply({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: node.name, labels: selector },
        spec: { unschedulable: node.unschedulable },
      });
      created.push(object);
      await kube.patchStatus(
        { apiVersion: 'v1', kind: 'Node', name: node.name },
        {
          capacity: { memory: `${node.memoryMiB}Mi`, cpu: '64' },
          allocatable: { memory: `${node.memoryMiB}Mi`, cpu: '64' },
        },
      );
    }
    created.push(
      await kube.apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: prefix, namespace: 'default' },
        spec: {
          nodeName: `${prefix}-a`,
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'app',
              image: 'registry.example/app:1',
              resources: { requests: { memory: `${footprint.memoryMiB / 2}Mi`, cpu: '100m' } },
            },
          ],
        },
      }),
    );

    const store = new EnvironmentStore({ redis: connect(), prefix: `${prefix}:` });
    const { provisioner } = simulatedLabs(kube, store);
    const pools = parsePoolsConfig({
      pools: [
        {
          name: prefix,
          kubernetesVersion: '1.36',
          workers: 0,
          size: 'small',
          min: 6,
          max: 6,
          maxConcurrentProvisions: 6,
        },
      ],
    });
    const worker = createPoolWorker({
      connection: connect,
      redis: connect(),
      store,
      provisioner,
      pools,
      prefix,
      kube,
      capacity: { nodeSelector: `breakfix.test/capacity=${prefix},kubevirt.io/schedulable=true` },
    });
    try {
      // When the pool wants 6 labs, then only the 3 that fit are provisioned, and the tick says why
      const first = await worker.tick();
      assert.equal(first.enqueued.length, 3);
      assert.deepEqual(first.held, [{ pool: prefix, target: 6, limitedBy: 'capacity' }]);
      // And labs already held count against the room: the next tick adds none
      const second = await worker.tick();
      assert.equal(second.enqueued.length, 0);
      assert.equal(second.held?.[0]?.limitedBy, 'capacity');
    } finally {
      await worker.close();
      await deleteLabs(kube, store);
    }
  } finally {
    for (const object of created.reverse()) {
      await kube.delete({
        apiVersion: object.apiVersion,
        kind: object.kind,
        name: object.metadata.name,
        ...(object.metadata.namespace === undefined ? {} : { namespace: object.metadata.namespace }),
      });
    }
  }
});
