import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { waitFor } from '@breakfix/core';
import { createKube } from '@breakfix/kube';
import { parseLabSpec } from '@breakfix/manifests';
import { createSshRunner, type SshConnectEvent } from '@breakfix/ssh';
import { closeRedisConnections, SHARED_NODE_PORTS, uniqueName, useSandbox } from '@breakfix/testkit';
import {
  ClaimPreparationError,
  type ClaimStepEvent,
  createLabAccess,
  createWarmConnections,
  type Environment,
  EnvironmentStore,
  NodePortAllocator,
  type PreparedLab,
} from '../src/index.js';
import { deleteLabs, simulatedLabs } from './simulated-labs.js';

const run = promisify(execFile);

/**
 * Claims on a warm pool whose labs the claim path keeps an operator connection to (ADR 22):
 * the claim's key install and break are one SSH command on that connection, and the claim still
 * holds when the connection is gone (sshd cut it) or the lab itself is.
 */
let store: EnvironmentStore;
let kube: ReturnType<typeof createKube>;
let labs: ReturnType<typeof simulatedLabs>;
let allocator: NodePortAllocator;
const pool = uniqueName('warm');
const handshakes: SshConnectEvent[] = [];
const steps: ClaimStepEvent[] = [];
/** The claim path's own runner (the provisioner has another, as the pool worker does). */
const claimSsh = createSshRunner({ onConnect: (event) => handshakes.push(event), channelOpenTimeoutMs: 2_000 });

before(async () => {
  const { info, redis } = await useSandbox();
  kube = createKube({ kubeconfig: info.kubeconfig });
  const prefix = `${uniqueName('warm')}:`;
  store = new EnvironmentStore({ redis: redis(), prefix });
  allocator = new NodePortAllocator({ redis: redis(), prefix, range: SHARED_NODE_PORTS });
  labs = simulatedLabs(kube, store);
});

after(async () => {
  claimSsh.close();
  labs.ssh.close();
  await deleteLabs(kube, store);
  closeRedisConnections();
});

function access() {
  return createLabAccess({
    kube,
    store,
    allocator,
    ssh: claimSsh,
    platform: labs.platform,
    operatorKey: labs.operatorKey,
    trace: (event) => steps.push(event),
  });
}

async function provision(count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => uniqueName('e'));
  const outcomes = await Promise.all(
    ids.map((id) => labs.provisioner.provision({ id, pool, spec: parseLabSpec({ labId: id }) })),
  );
  assert.deepEqual(outcomes, Array(count).fill('ready'));
  return ids;
}

/** The break of these tests, with the claim's setup in the same command, as the scenario runner does. */
async function breakWithSetup(lab: PreparedLab): Promise<void> {
  const cp = lab.nodes.cp ?? assert.fail('no cp');
  const result = await claimSsh.exec(cp, `{ ${lab.setup.cp}\n} && echo "kubelet: stopped" > /tmp/broken`, {
    sudo: true,
    idempotent: true,
  });
  assert.equal(result.code, 0, result.stderr);
}

/** The learner logs in with OpenSSH where the claim said: the control plane's node, at the lab's NodePort. */
async function learnerSees(env: Environment, privateKey: string): Promise<string> {
  const { host, port, knownHosts } = env.access ?? assert.fail('no recorded access');
  const dir = mkdtempSync(join(tmpdir(), 'learner-'));
  writeFileSync(join(dir, 'key'), privateKey.endsWith('\n') ? privateKey : `${privateKey}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'known_hosts'), `${knownHosts}\n`);
  const options = ['StrictHostKeyChecking=yes', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, 'BatchMode=yes'];
  const { stdout } = await run(
    'ssh',
    [
      '-i',
      join(dir, 'key'),
      ...options.flatMap((o) => ['-o', o]),
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'ConnectTimeout=5',
      // kube-proxy opens a NodePort a moment after the claim saw its endpoint (docs/adr/0031): as
      // a patient client does, a refused connect is tried again (one attempt a second)
      '-o',
      'ConnectionAttempts=5',
      '-p',
      String(port),
      `learner@${host}`,
      'id -un; cat /tmp/broken',
    ],
    { timeout: 15_000 },
  );
  return stdout;
}

/**
 * Cuts every connection to a guest's sshd, as a restart of sshd does: the processes holding the
 * server side of each established connection to `address`:22 are killed (the guest's listener
 * stays, so new connections are served).
 */
function cutConnections(address: string): number {
  const hex = address
    .split('.')
    .map((octet) => Number(octet).toString(16).padStart(2, '0').toUpperCase())
    .reverse()
    .join('');
  const inodes = new Set(
    readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[1] === `${hex}:0016` && fields[3] === '01')
      .map((fields) => fields[9]),
  );
  let killed = 0;
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let holds = false;
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        if (inode !== undefined && inodes.has(inode)) holds = true;
      }
    } catch {
      continue; // ended meanwhile
    }
    if (!holds) continue;
    process.kill(Number(pid), 'SIGKILL');
    killed++;
  }
  return killed;
}

describe('claims over kept connections', { timeout: 180_000 }, () => {
  test('a claim on a warm lab opens no SSH connection: keys and break are one command on the kept one', async () => {
    // Given a ready lab, and the claim path keeping a connection to it
    const [id] = await provision(1);
    const warm = createWarmConnections({
      store,
      ssh: claimSsh,
      platform: labs.platform,
      operatorKey: labs.operatorKey,
      pools: [pool],
    });
    try {
      assert.deepEqual(await warm.settled(), { open: 1, failed: 0 });
      assert.deepEqual(warm.labs(), [id]);
      const before = handshakes.length;

      // When a learner claims it
      const { environment, connection } = await access().claim({
        pool,
        learner: uniqueName('ada'),
        scenario: 'demo',
        ttlMs: 60_000,
        prepare: breakWithSetup,
        prepareRunsSetup: true,
      });

      // Then the claim made no handshake and no separate key install, read no VMI, and the learner
      // gets in with the key the answer carries and finds the break
      assert.equal(handshakes.length, before, 'no SSH handshake during the claim');
      const ofClaim = steps.filter((s) => s.labId === id).map((s) => s.step);
      assert.ok(!ofClaim.includes('key_install'), ofClaim.join(' '));
      assert.ok(!ofClaim.includes('lab_key'), 'a one-node lab has nobody to hop to');
      assert.equal(connection.port, environment.access?.port);
      const seen = await learnerSees(environment, connection.privateKey ?? assert.fail('generated key'));
      assert.equal(seen, 'learner\nkubelet: stopped\n');

      // And once claimed, the lab is no longer kept warm
      await warm.sync();
      assert.deepEqual(warm.labs(), []);
    } finally {
      await warm.stop();
    }
  });

  test('a claim still works when sshd cut the kept connection, and the runner keeps the next one', async () => {
    // Given a ready lab with a kept connection
    const [id] = await provision(1);
    const warm = createWarmConnections({
      store,
      ssh: claimSsh,
      platform: labs.platform,
      operatorKey: labs.operatorKey,
      pools: [pool],
    });
    try {
      assert.deepEqual(await warm.settled(), { open: 1, failed: 0 });
      const env = await store.get(id ?? '');
      const address = env.nodes?.cp?.address ?? assert.fail('recorded address');

      // When the guest's sshd drops every connection (as a restart does), and a learner claims at once
      assert.ok(cutConnections(address) > 0, 'a kept connection was there to cut');
      const { environment, connection } = await access().claim({
        pool,
        learner: uniqueName('bo'),
        scenario: 'demo',
        ttlMs: 60_000,
        prepare: breakWithSetup,
        prepareRunsSetup: true,
      });

      // Then the claim succeeded on a new connection, with the key and the break in place
      const seen = await learnerSees(environment, connection.privateKey ?? assert.fail('generated key'));
      assert.equal(seen, 'learner\nkubelet: stopped\n');
    } finally {
      await warm.stop();
    }
  });

  test('a lab whose VM vanished while warm fails its claim cleanly: lab handed back, port and Service gone', async () => {
    // Given a ready lab with a kept connection
    const [id] = await provision(1);
    const warm = createWarmConnections({
      store,
      ssh: claimSsh,
      platform: labs.platform,
      operatorKey: labs.operatorKey,
      pools: [pool],
    });
    try {
      assert.deepEqual(await warm.settled(), { open: 1, failed: 0 });
      const env = await store.get(id ?? '');

      // When its VM is deleted (its sshd goes with it) and a learner claims it
      await kube.delete({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', namespace: env.namespace, name: 'cp' });
      const address = env.nodes?.cp?.address ?? assert.fail('recorded address');
      await waitFor(
        async () => {
          const accepts = await new Promise<boolean>((resolve) => {
            const socket = createConnection({ host: address, port: 22 }, () => {
              socket.destroy();
              resolve(true);
            });
            socket.on('error', () => resolve(false));
          });
          return accepts ? undefined : true;
        },
        { what: 'the guest sshd gone', timeoutMs: 20_000, intervalMs: 100 },
      );
      const learner = uniqueName('cy');
      await assert.rejects(
        access().claim({
          pool,
          learner,
          scenario: 'demo',
          ttlMs: 60_000,
          prepare: breakWithSetup,
          prepareRunsSetup: true,
        }),
        (error: unknown) => error instanceof ClaimPreparationError,
      );

      // Then the lab is handed back, its port released and its Service gone
      const after = await store.get(id ?? '');
      assert.equal(after.state, 'releasing');
      assert.equal(
        (await allocator.leases()).find((lease) => lease.labId === id),
        undefined,
      );
      assert.equal(
        await kube.get({ apiVersion: 'v1', kind: 'Service', namespace: env.namespace, name: 'ssh' }),
        undefined,
      );
    } finally {
      await warm.stop();
    }
  });
});
