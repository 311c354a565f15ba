import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { InvalidInputError, waitFor } from '@breakfix/core';
import { createKube, type KubeObject } from '@breakfix/kube';
import { parseLabSpec, parsePlatformConfig } from '@breakfix/manifests';
import { emulatedBootstrap } from '@breakfix/sandbox';
import { createOperatorKey, generateEd25519 } from '@breakfix/secrets';
import { createSshRunner, openShell } from '@breakfix/ssh';
import { closeRedisConnections, SHARED_NODE_PORTS, uniqueName, useSandbox } from '@breakfix/testkit';
import {
  ClaimPreparationError,
  type ClaimStepEvent,
  createLabAccess,
  createProvisioner,
  EnvironmentStore,
  ExtendLimitError,
  NodePortAllocator,
} from '../src/index.js';

after(closeRedisConnections);

const run = promisify(execFile);
const operatorKey = createOperatorKey();
const platform = parsePlatformConfig({ operator: { publicKey: operatorKey.publicKey } });
const ssh = createSshRunner();

interface Fixture {
  kube: ReturnType<typeof createKube>;
  store: EnvironmentStore;
  allocator: NodePortAllocator;
  pool: string;
  provision(count: number): Promise<void>;
}

let fixture: Fixture;

before(async () => {
  const { info, redis } = await useSandbox();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const prefix = `${uniqueName('access')}:`;
  const store = new EnvironmentStore({ redis: redis(), prefix });
  const allocator = new NodePortAllocator({ redis: redis(), prefix, range: SHARED_NODE_PORTS });
  const provisioner = createProvisioner({
    kube,
    store,
    ssh,
    platform,
    operatorKey,
    vmsRunningTimeoutMs: 120_000,
    readyTimeoutMs: 120_000,
    probeIntervalMs: 200,
    decorate: emulatedBootstrap,
  });
  const pool = uniqueName('p');
  fixture = {
    kube,
    store,
    allocator,
    pool,
    async provision(count) {
      const outcomes = await Promise.all(
        Array.from({ length: count }, () => {
          const id = uniqueName('e');
          return provisioner.provision({ id, pool, spec: parseLabSpec({ labId: id, kubernetesVersion: '1.36' }) });
        }),
      );
      assert.deepEqual(outcomes, Array(count).fill('ready'));
    },
  };
  await fixture.provision(3);
});

/** Runs the OpenSSH client as a learner would, strict about the host key. */
async function learnerSsh(connection: { host: string; port: number; user: string; knownHosts: string }, key: string) {
  const dir = mkdtempSync(join(tmpdir(), 'learner-'));
  writeFileSync(join(dir, 'key'), key, { mode: 0o600 });
  writeFileSync(join(dir, 'known_hosts'), `${connection.knownHosts}\n`);
  return await run(
    'ssh',
    [
      '-i',
      join(dir, 'key'),
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
      '-o',
      'BatchMode=yes',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'ConnectTimeout=5',
      // kube-proxy opens a NodePort a moment after the claim saw its endpoint (docs/adr/0031): as
      // a patient client does, a refused connect is tried again (one attempt a second)
      '-o',
      'ConnectionAttempts=5',
      '-p',
      String(connection.port),
      `${connection.user}@${connection.host}`,
      'id -un; cat /tmp/broken',
    ],
    { timeout: 15_000 },
  );
}

test('a claimed lab takes a generated key, runs its break, and lets the learner in until release', async () => {
  const { store, kube, allocator, pool } = fixture;
  // Learners connect as on KubeVirt: the control plane's node, at the lab's NodePort
  const access = createLabAccess({ kube, store, allocator, ssh, platform, operatorKey });

  // Given a warm pool, when a learner without a registered key claims, with a break to apply
  const claimed = await access.claim({
    pool,
    learner: 'grace',
    scenario: 'demo',
    ttlMs: 60_000,
    prepare: async (lab) => {
      const result = await ssh.exec(lab.nodes.cp ?? assert.fail('no cp'), 'echo "kubelet: stopped" > /tmp/broken', {
        sudo: true,
      });
      assert.equal(result.code, 0);
    },
  });

  // Then the connection carries a private key, a known_hosts line and a command
  const { connection } = claimed;
  assert.ok(connection.privateKey?.includes('OPENSSH PRIVATE KEY'));
  assert.equal(connection.user, 'learner');
  assert.match(connection.knownHosts, /^\[\S+\]:\d+ ssh-ed25519 \S+$/);
  assert.match(connection.command, /StrictHostKeyChecking=yes/);
  // and it points at the address of the node that runs the control plane, and the lab's NodePort
  const cpVmi = await kube.get<KubeObject & { status?: { nodeName?: string } }>({
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    namespace: claimed.environment.namespace,
    name: 'cp',
  });
  const node = await kube.get<KubeObject & { status?: { addresses?: { type: string; address: string }[] } }>({
    apiVersion: 'v1',
    kind: 'Node',
    name: cpVmi?.status?.nodeName ?? assert.fail('cp is scheduled'),
  });
  assert.equal(connection.host, node?.status?.addresses?.find((a) => a.type === 'ExternalIP')?.address);
  assert.equal(connection.port, connection.nodePort);
  // and the record keeps everything but the private key, and the browser terminal's key only sealed
  const record = await store.get(claimed.environment.id);
  assert.equal(record.state, 'claimed');
  assert.deepEqual(Object.keys(record.access ?? {}).sort(), [
    'host',
    'knownHosts',
    'learnerKeyFingerprint',
    'nodePort',
    'port',
    'terminalKey',
    'user',
  ]);
  assert.doesNotMatch(record.access?.terminalKey ?? '', /PRIVATE KEY/);
  assert.equal('terminalKey' in connection, false, 'the sealed key never leaves with the connection');
  const terminal = await access.terminalTarget(record);
  assert.equal(
    (await ssh.exec(terminal, 'id -un')).stdout.trim(),
    'learner',
    'the terminal key logs in as the learner',
  );

  // And OpenSSH, strict about the host key, logs in as the learner and sees the break
  const session = await learnerSsh(connection, connection.privateKey ?? '');
  assert.deepEqual(session.stdout.trim().split('\n'), ['learner', 'kubelet: stopped']);

  // When the learner releases, the same key no longer gets in (the port closes first, then the
  // key goes; kube-proxy follows the Service's deletion a moment later) and the lab is on its way out
  const released = await access.release(claimed.environment.id);
  assert.equal(released.state, 'releasing');
  await assert.rejects(
    learnerSsh(connection, connection.privateKey ?? ''),
    /Permission denied|Connection refused|Connection reset/,
  );
  await waitFor(
    () =>
      learnerSsh(connection, connection.privateKey ?? '').then(
        () => undefined,
        (error: Error) => (/Connection refused/.test(error.message) ? true : undefined),
      ),
    { what: `the NodePort ${connection.host}:${connection.port} to refuse`, timeoutMs: 10_000, intervalMs: 100 },
  );
  await assert.rejects(
    openShell(terminal, { cols: 80, rows: 24 }),
    /authentication/,
    'the terminal key is revoked with it',
  );
  await assert.rejects(access.terminalTarget(released), /no browser terminal access/);
  assert.equal(await store.heldBy('grace'), undefined, 'the learner may claim again');
  assert.equal((await access.release(claimed.environment.id)).state, 'releasing', 'a second release is harmless');
});

test('a registered key is installed as given, the NodePort opens at claim and closes at release; extend is capped', async () => {
  const { store, kube, allocator, pool } = fixture;
  const trace: ClaimStepEvent[] = [];
  const access = createLabAccess({
    kube,
    store,
    allocator,
    ssh,
    platform,
    operatorKey,
    publicHost: 'labs.example.test',
    trace: (event) => trace.push(event),
  });
  const mine = generateEd25519('ada@laptop');

  const claimed = await access.claim({
    pool,
    learner: 'ada',
    scenario: 'demo',
    ttlMs: 60_000,
    publicKey: mine.publicKey,
  });
  const { connection, environment } = claimed;
  assert.equal(connection.privateKey, undefined, 'no key is generated when the learner has one');
  assert.equal(connection.host, 'labs.example.test');
  assert.ok(connection.nodePort !== undefined && connection.port === connection.nodePort);
  assert.match(connection.knownHosts, new RegExp(`^\\[labs\\.example\\.test\\]:${connection.port} ssh-ed25519 `));
  assert.match(connection.command, new RegExp(`-p ${connection.port} learner@labs\\.example\\.test$`));
  const service = await kube.get<KubeObject & { spec: { ports: { nodePort: number }[] } }>({
    apiVersion: 'v1',
    kind: 'Service',
    namespace: environment.namespace,
    name: 'ssh',
  });
  assert.equal(service?.spec.ports[0]?.nodePort, connection.port);

  // The trace names every step, each within the whole claim, all for this lab: in order, except
  // that the port (lease, Service, then its endpoint) and the key install run side by side; a
  // one-node lab places no lab key (nobody to hop to)
  const steps = trace.map((e) => [e.step, e.node ?? '', e.ok]);
  assert.deepEqual(steps.slice(0, 3), [
    ['redis_claim', '', true],
    ['vmi_lookup', '', true],
    ['keys_generate', '', true],
  ]);
  assert.deepEqual(steps.slice(3, 7).sort(), [
    ['endpoint_ready', '', true],
    ['key_install', 'cp', true],
    ['nodeport_lease', '', true],
    ['service_apply', '', true],
  ]);
  const at = (name: string) => steps.findIndex((step) => step[0] === name);
  assert.ok(at('nodeport_lease') < at('service_apply') && at('service_apply') < at('endpoint_ready'));
  assert.deepEqual(steps.slice(7), [
    ['connection_address', '', true],
    ['record', '', true],
    ['total', '', true],
  ]);
  const total = trace.at(-1) ?? assert.fail('no total');
  for (const event of trace) {
    assert.equal(event.labId, environment.id);
    assert.equal(event.learner, 'ada');
    assert.ok(event.startedAt >= total.startedAt && event.startedAt + event.ms <= total.startedAt + total.ms + 0.001);
  }

  // The learner's own key logs in through the NodePort, at the address labs.example.test stands
  // for: the node that runs the control plane
  const cpNode = (
    await kube.get<KubeObject & { status?: { nodeName?: string } }>({
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      namespace: environment.namespace,
      name: 'cp',
    })
  )?.status?.nodeName;
  const nodeAddress =
    (
      await kube.get<KubeObject & { status?: { addresses?: { type: string; address: string }[] } }>({
        apiVersion: 'v1',
        kind: 'Node',
        name: cpNode ?? assert.fail('cp is scheduled'),
      })
    )?.status?.addresses?.find((a) => a.type === 'ExternalIP')?.address ?? assert.fail('the node has an address');
  const knownHosts = connection.knownHosts.replace('labs.example.test', nodeAddress);
  const session = await learnerSsh({ ...connection, host: nodeAddress, knownHosts }, mine.privateKey).catch(
    (error: { stdout?: string }) => error,
  );
  assert.equal((session.stdout ?? '').split('\n')[0], 'learner');

  // Extend pushes the expiry out, never past the cap
  const first = await store.extend(environment.id, 30_000, 90_000);
  assert.ok(first > (environment.expiresAt ?? 0));
  await assert.rejects(
    (async () => {
      for (let i = 0; i < 5; i++) await store.extend(environment.id, 30_000, 90_000);
    })(),
    ExtendLimitError,
  );

  // Two releases at once (the learner's and the reaper's) both succeed and leave one released lab
  const both = await Promise.all([access.release(environment.id), access.release(environment.id)]);
  assert.deepEqual(
    both.map((e) => e.state),
    ['releasing', 'releasing'],
  );
  assert.equal(
    await kube.get({ apiVersion: 'v1', kind: 'Service', namespace: environment.namespace, name: 'ssh' }),
    undefined,
  );
  assert.equal(
    (await allocator.leases()).find((l) => l.labId === environment.id),
    undefined,
    'the port is free',
  );
});

test('bad keys are refused before a lab is taken; a failing break hands the lab back', async () => {
  const { store, kube, allocator, pool } = fixture;
  const outcomes: string[] = [];
  const trace: ClaimStepEvent[] = [];
  const access = createLabAccess({
    kube,
    store,
    allocator,
    ssh,
    platform,
    operatorKey,
    onClaim: (event) => outcomes.push(event.outcome),
    trace: (event) => trace.push(event),
  });
  const ready = await store.readyCount(pool);

  for (const publicKey of ['-----BEGIN OPENSSH PRIVATE KEY-----\nabc', 'ssh-ed25519 !!!', 'ssh-dss AAAAB3NzaC1kc3M=']) {
    await assert.rejects(
      access.claim({ pool, learner: 'mallory', scenario: 'demo', ttlMs: 60_000, publicKey }),
      InvalidInputError,
    );
  }
  assert.equal(await store.readyCount(pool), ready, 'no lab was taken by a refused claim');
  assert.deepEqual(
    trace.map((e) => [e.step, e.ok]),
    Array(3).fill(['total', false]),
    'a refused key ends the claim before any step',
  );
  trace.length = 0;

  // When the break fails, the claim fails with a clear error and the learner holds nothing
  await assert.rejects(
    access.claim({
      pool,
      learner: 'linus',
      scenario: 'demo',
      ttlMs: 60_000,
      prepare: async () => {
        throw new Error('break.sh exited 1');
      },
    }),
    (error: unknown) => error instanceof ClaimPreparationError && /break\.sh exited 1/.test(error.message),
  );
  assert.equal(await store.heldBy('linus'), undefined);
  assert.deepEqual(
    outcomes,
    ['invalid_input', 'invalid_input', 'invalid_input', 'upstream'],
    'each outcome is reported',
  );
  const broken = (await store.list()).filter((env) => env.state === 'releasing' && env.learner === 'linus');
  assert.equal(broken.length, 1, 'the lab goes to teardown, not back to the pool');
  // and the trace shows the failed step, then the hand-back (the port, opened beside it, is
  // closed by that hand-back)
  const exposure = ['nodeport_lease', 'service_apply', 'endpoint_ready'];
  assert.deepEqual(
    trace.filter((e) => !exposure.includes(e.step)).map((e) => [e.step, e.ok]),
    [
      ['redis_claim', true],
      ['vmi_lookup', true],
      ['keys_generate', true],
      ['key_install', true],
      ['prepare', false],
      ['release_after_failure', true],
      ['total', false],
    ],
  );
  assert.deepEqual(
    trace.filter((e) => exposure.includes(e.step)).map((e) => [e.step, e.ok]),
    exposure.map((step) => [step, true]),
  );
});
