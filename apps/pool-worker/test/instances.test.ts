import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createKube, type Kube, type KubeObject } from '@breakfix/kube';
import { INSTANCE_LABEL, labLabels, labNamespace, parsePlatformConfig, parsePoolsConfig } from '@breakfix/manifests';
import { EnvironmentStore } from '@breakfix/pool';
import { uniqueName, useSandbox } from '@breakfix/testkit';
import { Redis } from 'ioredis';
import { createPoolWorker } from '../src/create-pool-worker.js';

const OPERATOR_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIINSTANCESINSTANCESINSTANCESINSTANCESINSTANCE0 operator';
const connections: Redis[] = [];
const namespaces: string[] = [];
let cleanupKube: Kube | undefined;
after(async () => {
  for (const name of namespaces) await cleanupKube?.delete({ apiVersion: 'v1', kind: 'Namespace', name });
  for (const connection of connections) connection.disconnect();
});

/** BullMQ wants connections that never give up on a request; all are closed after the file. */
function connector(url: string): () => Redis {
  return () => {
    const redis = new Redis(url, { maxRetriesPerRequest: null });
    connections.push(redis);
    return redis;
  };
}

/**
 * One platform install: its own Redis prefix, its own instance (named after the prefix), a worker
 * whose provisioner does nothing (what reconcile does is under test, not booting), and a way to
 * put a lab namespace in the cluster labelled the way rendering labels it, with or without a
 * record in this install's Redis.
 */
async function install(name: string, options: { adoptUnlabelledLabs?: boolean } = {}) {
  const { info } = await useSandbox();
  const connect = connector(info.redisUrl);
  const kube = createKube({ kubeconfig: info.kubeconfig });
  cleanupKube = kube;
  const prefix = uniqueName(name);
  const platform = parsePlatformConfig({ instance: prefix, operator: { publicKey: OPERATOR_KEY } });
  const store = new EnvironmentStore({ redis: connect(), prefix: `${prefix}:` });
  const worker = createPoolWorker({
    connection: connect,
    redis: connect(),
    store,
    provisioner: {
      provision: async () => 'skipped' as const,
      teardown: async () => {},
      namespaceFor: (id: string) => labNamespace({ labId: id }, platform),
      instance: platform.instance,
    },
    pools: parsePoolsConfig({ pools: [{ name: prefix, kubernetesVersion: '1.36', workers: 0, min: 0, max: 1 }] }),
    prefix,
    kube,
    ...options,
  });
  async function lab(how: { held: boolean; labelled?: boolean }): Promise<string> {
    const labId = uniqueName('l');
    const namespace = labNamespace({ labId }, platform);
    const labels = labLabels(labId, platform);
    if (how.labelled === false) delete labels[INSTANCE_LABEL]; // a lab made before the label existed
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels } });
    namespaces.push(namespace);
    if (how.held) {
      await store.create({ id: labId, pool: prefix, namespace });
      await store.apply(labId, 'provisioned');
    }
    return namespace;
  }
  return { kube, worker, platform, lab };
}

/** Whether the namespace is still there and nobody asked to delete it. */
async function untouched(kube: Kube, name: string): Promise<boolean> {
  const namespace = await kube.get<KubeObject>({ apiVersion: 'v1', kind: 'Namespace', name });
  return namespace !== undefined && namespace.metadata.deletionTimestamp === undefined;
}

test("two instances on one apiserver: each one's reconcile(0) reaps its own orphans and never the other's labs", {
  timeout: 120_000,
}, async () => {
  const a = await install('insta');
  const b = await install('instb');
  try {
    // Given each install has a lab it holds and an orphan (a lab namespace no record of its own holds)
    const aHeld = await a.lab({ held: true });
    const aOrphan = await a.lab({ held: false });
    const bHeld = await b.lab({ held: true });
    const bOrphan = await b.lab({ held: false });

    // When A reconciles with no grace
    const fromA = await a.worker.reconcile(0);
    // Then it deleted its own orphan and nothing else: B's labs are not orphans of A's, held or not
    assert.deepEqual(fromA.orphanNamespaces, [aOrphan]);
    assert.deepEqual(fromA.orphanRecords, []);
    assert.ok(await untouched(b.kube, bHeld), "B's held lab is left alone");
    assert.ok(await untouched(b.kube, bOrphan), "B's orphan is B's to reap, not A's");
    assert.equal(await untouched(a.kube, aOrphan), false, "A's orphan is being deleted");

    // And B, reconciling in turn, reaps its own orphan and leaves A's held lab alone
    const fromB = await b.worker.reconcile(0);
    assert.deepEqual(fromB.orphanNamespaces, [bOrphan]);
    assert.deepEqual(fromB.orphanRecords, []);
    assert.ok(await untouched(a.kube, aHeld), "A's held lab is left alone");
    assert.ok(await untouched(b.kube, bHeld));
  } finally {
    await a.worker.close();
    await b.worker.close();
  }
});

test('labs without an instance label (made before it existed): a named instance neither deletes them nor closes their records; one that adopts them reaps them', {
  timeout: 120_000,
}, async () => {
  const named = await install('named');
  // Stands in for the default instance (`breakfix`), which adopts unlabelled labs by default (see
  // packages/manifests/test/instance.test.ts): a real default instance reconciling with no grace
  // would reap other test files' default-instance labs on this shared apiserver.
  const adopter = await install('adopt', { adoptUnlabelledLabs: true });
  try {
    // Given an old unlabelled lab namespace nobody holds, and one the named install still holds
    const stray = await named.lab({ held: false, labelled: false });
    const stillHeld = await named.lab({ held: true, labelled: false });

    // When the named instance reconciles with no grace
    const fromNamed = await named.worker.reconcile(0);
    // Then it deletes neither, and its record stays: the namespace exists, whoever owns it
    assert.deepEqual(fromNamed.orphanNamespaces, []);
    assert.deepEqual(fromNamed.orphanRecords, []);
    assert.ok(await untouched(named.kube, stray));
    assert.ok(await untouched(named.kube, stillHeld));

    // When an instance that adopts unlabelled labs reconciles (the named one has a labelled orphan by now)
    const namedOrphan = await named.lab({ held: false });
    const fromAdopter = await adopter.worker.reconcile(0);
    // Then every unlabelled lab it does not hold is its to reap, even one another install holds
    // (so a named install labels its old labs before a default one shares the cluster: operator guide)
    assert.ok(fromAdopter.orphanNamespaces.includes(stray), JSON.stringify(fromAdopter));
    assert.ok(fromAdopter.orphanNamespaces.includes(stillHeld), JSON.stringify(fromAdopter));
    assert.equal(await untouched(adopter.kube, stray), false);
    // And a labelled lab of another instance is still never its
    assert.ok(!fromAdopter.orphanNamespaces.includes(namedOrphan));
    assert.ok(await untouched(named.kube, namedOrphan));
  } finally {
    await named.worker.close();
    await adopter.worker.close();
  }
});
