import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { describe, test } from 'node:test';
import { InvalidInputError, NotFoundError, waitFor } from '@breakfix/core';
import { pinnedNodePort, uniqueName, useSandbox } from '@breakfix/testkit';
import { createKube, type KubeObject, type WatchEventType } from '../src/index.js';

const adminKube = async () => createKube({ kubeconfig: (await useSandbox()).info.kubeconfig });

const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

function vm(namespace: string, name: string, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, namespace, labels: { 'breakfix.dev/lab': namespace } },
    spec: {
      runStrategy: 'Halted',
      template: {
        spec: {
          domain: {
            devices: { interfaces: [{ name: 'default', bridge: {} }] },
            resources: { requests: { memory: '1Gi' } },
          },
          networks: [{ name: 'default', pod: {} }],
        },
      },
      ...spec,
    },
  };
}

function nodePortService(namespace: string, name: string, nodePort: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { type: 'NodePort', selector: { app: name }, ports: [{ name: 'ssh', port: 22, targetPort: 22, nodePort }] },
  };
}

describe('kube port against the sandbox apiserver', () => {
  test('strict validation: a misspelled VirtualMachine field is rejected, naming the field', async () => {
    const kube = await adminKube();
    const name = uniqueName('kube');
    await kube.apply(ns(name));
    const misspelled = vm(name, 'cp');
    const spec = misspelled.spec as Record<string, unknown>;
    spec.runStategy = spec.runStrategy;
    delete spec.runStrategy;

    await assert.rejects(kube.apply(misspelled), (error: unknown) => {
      assert.ok(error instanceof InvalidInputError, String(error));
      assert.match(error.message, /\.spec\.runStategy: field not declared in schema/);
      return true;
    });
    assert.equal(
      await kube.get({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', namespace: name, name: 'cp' }),
      undefined,
    );
  });

  test('a valid VirtualMachine is accepted; a wrong type deep in the template is rejected with its path', async () => {
    const kube = await adminKube();
    const name = uniqueName('kube');
    await kube.apply(ns(name));
    const applied = await kube.apply(vm(name, 'cp'));
    assert.ok(applied.metadata.uid);
    assert.equal(applied.metadata.labels?.['breakfix.dev/lab'], name);

    const wrong = vm(name, 'cp2', {
      template: { spec: { domain: { cpu: { cores: 'two' }, devices: {} } } },
    });
    await assert.rejects(kube.apply(wrong), /spec\.template\.spec\.domain\.cpu\.cores/);
  });

  test('dry run validates without persisting', async () => {
    const kube = await adminKube();
    const name = uniqueName('kube');
    await kube.apply(ns(name));
    const result = await kube.apply(vm(name, 'dry'), { dryRun: true });
    assert.equal(result.metadata.name, 'dry');
    assert.equal(
      await kube.get({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', namespace: name, name: 'dry' }),
      undefined,
    );
  });

  test('a Service asking for a NodePort already in use is rejected', async () => {
    const kube = await adminKube();
    const name = uniqueName('kube');
    await kube.apply(ns(name));
    const port = pinnedNodePort('kube-duplicate');
    await kube.apply(nodePortService(name, 'first', port));
    await assert.rejects(kube.apply(nodePortService(name, 'second', port)), (error: unknown) => {
      assert.ok(error instanceof InvalidInputError);
      assert.match(error.message, new RegExp(`provided port is already allocated|${port}`));
      return true;
    });
  });

  test('get, list by label, delete report absence plainly', async () => {
    const kube = await adminKube();
    const name = uniqueName('kube');
    await kube.apply(ns(name));
    await kube.apply(vm(name, 'a'));
    await kube.apply({ ...vm(name, 'b'), metadata: { name: 'b', namespace: name, labels: { other: 'x' } } });

    const listed = await kube.list('kubevirt.io/v1', 'VirtualMachine', {
      namespace: name,
      labelSelector: `breakfix.dev/lab=${name}`,
    });
    assert.deepEqual(
      listed.map((o) => o.metadata.name),
      ['a'],
    );
    assert.equal(listed[0]?.kind, 'VirtualMachine', 'list items carry their kind');

    const ref = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', namespace: name, name: 'a' };
    assert.equal(await kube.delete(ref), true);
    assert.equal(await kube.delete({ ...ref, name: 'never-was' }), false);
    assert.equal(await kube.get({ ...ref, name: 'never-was' }), undefined);
    await assert.rejects(kube.list('kubevirt.io/v1', 'NoSuchKind'), NotFoundError);
  });

  test('watch delivers existing objects, then changes, until stopped', async () => {
    const kube = await adminKube();
    const name = uniqueName('kube');
    await kube.apply(ns(name));
    await kube.apply(vm(name, 'before'));
    const seen: [WatchEventType, string][] = [];
    const handle = await kube.watch(
      'kubevirt.io/v1',
      'VirtualMachine',
      { namespace: name },
      (type, object) => {
        seen.push([type, object.metadata.name]);
      },
      () => {},
    );
    try {
      await kube.apply(vm(name, 'after'));
      await kube.delete({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', namespace: name, name: 'before' });
      await waitFor(async () => (seen.some(([t, n]) => t === 'DELETED' && n === 'before') ? true : undefined), {
        what: 'DELETED event',
        timeoutMs: 5_000,
      });
      assert.deepEqual(seen.find(([, n]) => n === 'before')?.[0], 'ADDED');
      assert.ok(seen.some(([t, n]) => t === 'ADDED' && n === 'after'));
    } finally {
      handle.stop();
    }
  });

  test('patchStatus writes through the status subresource without touching spec', async () => {
    const kube = await adminKube();
    const name = uniqueName('kube');
    await kube.apply(ns(name));
    await kube.apply(vm(name, 'cp'));
    const ref = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', namespace: name, name: 'cp' };
    await kube.patchStatus(ref, { printableStatus: 'Stopped', ready: false });
    const current = await kube.get<KubeObject & { spec: { runStrategy: string }; status: { printableStatus: string } }>(
      ref,
    );
    assert.equal(current?.status.printableStatus, 'Stopped');
    assert.equal(current?.spec.runStrategy, 'Halted');
  });

  test('patch changes finalizers only while a test holds, and never creates a missing object', async () => {
    const kube = await adminKube();
    const name = uniqueName('kube');
    await kube.apply(ns(name));
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', namespace: name, name: 'held' };
    await kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held', namespace: name } });
    await kube.patch(ref, [{ op: 'add', path: '/metadata/finalizers', value: ['example.com/hold'] }]);

    // A test on a stale value refuses the change, as controllers rely on
    await assert.rejects(
      kube.patch(ref, [
        { op: 'test', path: '/metadata/finalizers', value: ['example.com/other'] },
        { op: 'replace', path: '/metadata/finalizers', value: [] },
      ]),
      InvalidInputError,
    );
    assert.deepEqual((await kube.get(ref))?.metadata.finalizers, ['example.com/hold']);

    // The object waits for its finalizer, and goes once the patch removes it
    assert.equal(await kube.delete(ref), true);
    assert.ok((await kube.get(ref))?.metadata.deletionTimestamp, 'held by its finalizer');
    await kube.patch(ref, [
      { op: 'test', path: '/metadata/finalizers', value: ['example.com/hold'] },
      { op: 'replace', path: '/metadata/finalizers', value: [] },
    ]);
    assert.equal(await kube.get(ref), undefined);
    assert.equal(await kube.patch(ref, [{ op: 'add', path: '/metadata/finalizers', value: [] }]), undefined);
  });

  test('bind places a pending pod on a node; a bound pod deletes gracefully until deleted with grace 0', {
    timeout: 60_000,
  }, async () => {
    // Given a pod nobody schedules (no scheduler runs here)
    const kube = await adminKube();
    const name = uniqueName('kube');
    await kube.apply(ns(name));
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: name },
      spec: { containers: [{ name: 'c', image: 'example.invalid/c:1' }] },
    };
    await kube.apply(pod);
    const ref = { apiVersion: 'v1', kind: 'Pod', namespace: name, name: 'p' };

    // When it is bound, then it names the node, and a second binding is refused
    await kube.bind({ namespace: name, name: 'p' }, 'node-a');
    assert.equal((await kube.get<KubeObject & { spec: { nodeName?: string } }>(ref))?.spec.nodeName, 'node-a');
    await assert.rejects(kube.bind({ namespace: name, name: 'p' }, 'node-b'));

    // And a plain delete only marks it (its kubelet would finish), grace 0 removes it
    assert.equal(await kube.delete(ref), true);
    assert.ok((await kube.get(ref))?.metadata.deletionTimestamp, 'terminating, not gone');
    assert.equal(await kube.delete(ref, { gracePeriodSeconds: 0 }), true);
    await waitFor(async () => ((await kube.get(ref)) === undefined ? true : undefined), {
      what: 'the pod to be gone',
      timeoutMs: 10_000,
    });
    await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name });
  });
});

/** This process's established TCP connections to `port` on loopback (from /proc/net/tcp and its fds). */
function connectionsTo(port: number): number {
  const mine = new Set(
    readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        return [/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1] ?? ''];
      } catch {
        return []; // closed since the listing
      }
    }),
  );
  const remote = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[2]?.endsWith(remote) && f[3] === '01' && mine.has(f[9] ?? '-')).length;
}

test('requests reuse their TLS connections instead of a handshake each', { timeout: 60_000 }, async () => {
  // Given a fresh client (watches elsewhere in this file hold connections of their own)
  const kube = await adminKube();
  const apiPort = Number(new URL((await useSandbox()).info.apiServerUrl).port);
  const before = connectionsTo(apiPort);
  // When it makes 30 requests one after another, then 10 at once, then 10 more one at a time
  for (let i = 0; i < 30; i++) await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'default' });
  await Promise.all(
    Array.from({ length: 10 }, () => kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'kube-system' })),
  );
  for (let i = 0; i < 10; i++) await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'default' });
  // Then it opened at most one connection per request in flight at once, and keeps them
  const opened = connectionsTo(apiPort) - before;
  assert.ok(opened >= 1 && opened <= 10, `expected 1 to 10 new kept connections, saw ${opened}`);
});
