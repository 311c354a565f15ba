import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@breakfix/core';
import { createKube, type KubeObject } from '@breakfix/kube';
import { labLabels } from '@breakfix/manifests';
import { closeRedisConnections, pinnedNodePort, SHARED_NODE_PORTS, uniqueName, useSandbox } from '@breakfix/testkit';
import { NodePortAllocator, NodePortsExhaustedError, openSsh, reconcileNodePorts } from '../src/index.js';

after(closeRedisConnections);

const WORKER = fileURLToPath(new URL('./alloc-worker.ts', import.meta.url));

function worker(args: string[]): { child: ChildProcess; result: Promise<{ ports: (number | string)[]; ms: number }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.on('data', (chunk) => {
    out += chunk;
  });
  const result = (async () => {
    while (!out.includes('\n')) {
      if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}`);
      await sleep(20);
    }
    return JSON.parse(out.split('\n')[0] ?? '') as { ports: (number | string)[]; ms: number };
  })();
  return { child, result };
}

async function allocator(range: { first: number; last: number } = SHARED_NODE_PORTS, leaseMs = 60_000) {
  const { redis, info } = await useSandbox();
  const prefix = `${uniqueName('np')}:`;
  return {
    allocator: new NodePortAllocator({ redis: redis(), prefix, range, leaseMs }),
    prefix,
    redisUrl: info.redisUrl,
  };
}

describe('NodePort allocator', () => {
  test('4 processes x 500 concurrent allocations: 2000 distinct ports', async () => {
    const { prefix, redisUrl } = await allocator();
    const runs = ['a', 'b', 'c', 'd'].map((p) => worker([redisUrl, prefix, '500', p, '60000', '30000', '32767']));
    const results = await Promise.all(runs.map((r) => r.result));
    const ports = results.flatMap((r) => r.ports);
    assert.equal(ports.length, 2000);
    assert.ok(
      ports.every((p) => typeof p === 'number' && p >= 30000 && p <= 32767),
      'every allocation got a port',
    );
    assert.equal(new Set(ports).size, 2000, 'no port handed out twice');
  });

  test('a lab holds one port: allocating again returns it, release frees it, renew extends it', async () => {
    const { allocator: a } = await allocator();
    const port = await a.allocate('lab-1');
    assert.equal(await a.allocate('lab-1'), port);
    assert.equal(await a.renew('lab-1'), port);
    assert.equal(await a.release('lab-1'), port);
    assert.equal(await a.release('lab-1'), undefined);
    assert.equal(await a.renew('lab-1'), undefined);
    assert.deepEqual(await a.leases(), []);
  });

  test('a process killed mid-allocation leaks nothing once its leases expire', async () => {
    const { allocator: a, prefix, redisUrl } = await allocator({ first: 31000, last: 31009 }, 60_000);
    const run = worker([redisUrl, prefix, '10', 'doomed', '800', '31000', '31009', '--then-hang']);
    const { ports } = await run.result;
    assert.equal(new Set(ports).size, 10, 'the dying process took the whole range');
    run.child.kill('SIGKILL');
    await once(run.child, 'exit');
    await assert.rejects(a.allocate('survivor'), NodePortsExhaustedError);

    await sleep(900);
    const port = await a.allocate('survivor');
    assert.ok(port >= 31000 && port <= 31009);
    assert.deepEqual(
      (await a.leases()).map((l) => l.labId),
      ['survivor'],
    );
  });

  test('an exhausted range fails with an error naming the range', async () => {
    const { allocator: a } = await allocator({ first: 30100, last: 30102 });
    for (const lab of ['x', 'y', 'z']) await a.allocate(lab);
    await assert.rejects(a.allocate('w'), (error: unknown) => {
      assert.ok(error instanceof NodePortsExhaustedError);
      assert.match(error.message, /every NodePort in 30100-30102 is leased or taken/);
      assert.equal(error.code, 'pool_exhausted');
      return true;
    });
  });

  test('a malformed range is refused', async () => {
    const { redis } = await useSandbox();
    assert.throws(
      () => new NodePortAllocator({ redis: redis(), range: { first: 32000, last: 31000 } }),
      /not a port range/,
    );
  });
});

describe('NodePorts against the cluster', () => {
  // This test file's own instance: the reconciler adopts only its labs' Services.
  const owner = { instance: uniqueName('np') };
  const service = (
    namespace: string,
    name: string,
    nodePort: number,
    labels: Record<string, string> = {},
  ): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels },
    spec: { type: 'NodePort', selector: { app: name }, ports: [{ port: 22, targetPort: 22, nodePort }] },
  });

  async function setup(first: number, last: number) {
    const kube = createKube({ kubeconfig: (await useSandbox()).info.kubeconfig });
    const { allocator: a } = await allocator({ first, last });
    const namespace = uniqueName('lab');
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    return { kube, a, namespace };
  }

  test("a port taken behind the allocator's back is skipped: openSsh re-picks, reconcile blocks it", async () => {
    // A private two-port range, one of which someone else's Service already holds.
    const first = pinnedNodePort('allocator-squatter', 2);
    const { kube, a, namespace } = await setup(first, first + 1);
    await kube.apply(service(namespace, 'squatter', first));

    const lab = (labId: string) => ({ labId, namespace, labels: labLabels(labId, owner) });
    // Whichever port the allocator tries first, lab one must end on the free one.
    const one = await openSsh({ kube, allocator: a }, lab('one'));
    assert.equal(one.nodePort, first + 1);
    const ssh = await kube.get<KubeObject & { spec: { ports: { nodePort: number }[] } }>({
      apiVersion: 'v1',
      kind: 'Service',
      namespace,
      name: 'ssh',
    });
    assert.equal(ssh?.spec.ports[0]?.nodePort, first + 1);

    const report = await reconcileNodePorts({ kube, allocator: a, owner });
    assert.ok(report.blocked.includes(first), "the squatter's port is blocked");
    assert.deepEqual(report.adopted, [], 'lab one was already recorded');
    assert.ok((await a.blocked()).includes(first));
    // Nothing is left for a second lab: the squatted port is never offered.
    await assert.rejects(a.allocate('two'), NodePortsExhaustedError);
  });

  test("two instances on one range: another's lab Service is blocked, never adopted, and its own lease stays", async () => {
    // Two installs (own Redis prefix, own instance) lease from the same two ports.
    const first = pinnedNodePort('allocator-instances', 2);
    const { kube, a: ours, namespace } = await setup(first, first + 1);
    const { allocator: theirs } = await allocator({ first, last: first + 1 });
    const them = { instance: uniqueName('np') };
    // Given the other install opened SSH into its lab, and a lab of ours holds a lease on the same
    // port in our Redis (a claim that lost the race and is about to hear "already allocated")
    const theirLab = { labId: 'theirs', namespace, labels: labLabels('theirs', them) };
    const { nodePort } = await openSsh({ kube, allocator: theirs }, theirLab);
    const other = nodePort === first ? first + 1 : first;
    await ours.adopt('ours', nodePort);

    // When our reconciler runs (past every grace period)
    const report = await reconcileNodePorts({ kube, allocator: ours, owner, now: () => Date.now() + 3_600_000 });

    // Then their Service's port is taken outside this instance: blocked, not adopted
    assert.deepEqual(report.adopted, []);
    assert.deepEqual(report.blocked, [nodePort]);
    assert.deepEqual(report.freed, [{ labId: 'ours', port: nodePort }], 'our lease on it could never be real');
    assert.deepEqual(await ours.leases(), []);
    assert.deepEqual(await ours.blocked(), [nodePort]);
    // And our next lab gets the other port, never theirs
    assert.equal(await ours.allocate('next'), other);
    // And their lease and Service are as they were
    assert.deepEqual(
      (await theirs.leases()).map((l) => [l.labId, l.port]),
      [['theirs', nodePort]],
    );
    const ssh = await kube.get<KubeObject & { spec: { ports: { nodePort: number }[] } }>({
      apiVersion: 'v1',
      kind: 'Service',
      namespace,
      name: 'ssh',
    });
    assert.equal(ssh?.spec.ports[0]?.nodePort, nodePort);
  });

  test('reconcile adopts a lab Service Redis forgot and frees a lease whose Service is gone', async () => {
    const first = pinnedNodePort('allocator-adopt', 2);
    const { kube, a, namespace } = await setup(first, first + 1);
    await kube.apply(service(namespace, 'ssh', first, labLabels('kept', owner)));
    let now = Date.now();
    const clock = { allocator: a, kube, now: () => now };
    await a.allocate('ghost'); // a lease with no Service
    now += 120_000; // past the grace period

    const report = await reconcileNodePorts({ ...clock, graceMs: 60_000, owner });
    assert.deepEqual(report.adopted, [{ labId: 'kept', port: first }]);
    assert.equal(report.freed.length, 1);
    assert.equal(report.freed[0]?.labId, 'ghost');
    assert.deepEqual(
      (await a.leases()).map((l) => [l.labId, l.port]),
      [['kept', first]],
    );
    await waitFor(async () => ((await a.allocate('kept')) === first ? true : undefined), {
      what: 'adopted port',
      timeoutMs: 1_000,
    });
  });
});
