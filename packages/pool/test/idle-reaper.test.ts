import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@breakfix/core';
import { createKube } from '@breakfix/kube';
import { parseLabSpec, parsePoolsConfig } from '@breakfix/manifests';
import { generateEd25519 } from '@breakfix/secrets';
import { createSshRunner } from '@breakfix/ssh';
import { closeRedisConnections, SHARED_NODE_PORTS, uniqueName, useSandbox } from '@breakfix/testkit';
import { Client, type ClientChannel } from 'ssh2';
import {
  createIdleReaper,
  createLabAccess,
  createLabActivity,
  type Environment,
  EnvironmentStore,
  type LabEvent,
  type LearnerSession,
  labEventsChannel,
  NodePortAllocator,
  parseLabEvent,
  parseSessionProbe,
  probeLearnerSessions,
} from '../src/index.js';
import { deleteLabs, simulatedLabs } from './simulated-labs.js';

const MINUTE = 60_000;

/** Everything a test needs around one claimed lab, on a clock the test moves. */
interface Lab {
  id: string;
  clock: { now: number };
  store: EnvironmentStore;
  activity: ReturnType<typeof createLabActivity>;
  reaper: ReturnType<typeof createIdleReaper>;
  access: ReturnType<typeof createLabAccess>;
  events: LabEvent[];
  privateKey: string;
  /** Where the claim told the learner to connect (the control plane's NodePort). */
  connection: { host: string; port: number };
  environment: Environment;
  /** Moves the clock to `minutes` after the claim and runs one reaper pass. */
  passAt(minutes: number): Promise<Awaited<ReturnType<ReturnType<typeof createIdleReaper>['reap']>>>;
  current(): Promise<Environment>;
  /** Waits until an event of `kind` arrived (pub/sub is asynchronous), with a deadline. */
  event(kind: LabEvent['kind']): Promise<LabEvent>;
}

let cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
  cleanups = [];
  closeRedisConnections();
});

async function claimedLab(pool: { idleMinutes?: number; idleWarningMinutes?: number }): Promise<Lab> {
  const { info, redis } = await useSandbox();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const name = uniqueName('idle');
  const clock = { now: Date.parse('2026-12-01T09:00:00Z') };
  const now = () => clock.now;
  const store = new EnvironmentStore({ redis: redis(), prefix: `${name}:`, now });
  const allocator = new NodePortAllocator({ redis: redis(), prefix: `${name}:`, range: SHARED_NODE_PORTS });
  const { provisioner, platform, operatorKey, ssh } = simulatedLabs(kube, store);
  cleanups.push(async () => {
    ssh.close();
    await deleteLabs(kube, store);
  });
  const access = createLabAccess({ kube, store, allocator, ssh, platform, operatorKey });
  const poolName = uniqueName('p');
  const pools = parsePoolsConfig({
    pools: [{ name: poolName, kubernetesVersion: '1.36', workers: 0, min: 0, max: 1, ...pool }],
  });
  const id = uniqueName('e');
  assert.equal(await provisioner.provision({ id, pool: poolName, spec: parseLabSpec({ labId: id }) }), 'ready');
  const claimed = await access.claim({ pool: poolName, learner: 'ida', scenario: 'demo', ttlMs: 600 * MINUTE });
  // The claim placed the lab key as the learner; its connection lingers a moment for reuse.
  ssh.close();
  const activity = createLabActivity({ redis: redis(), prefix: name, now });
  const events: LabEvent[] = [];
  const subscriber = redis();
  await subscriber.subscribe(labEventsChannel(name));
  subscriber.on('message', (_channel, message) => {
    const event = parseLabEvent(message);
    if (event !== undefined) events.push(event);
  });
  const reaper = createIdleReaper({
    store,
    activity,
    targets: (env) => access.targets(env),
    ssh,
    learnerUser: platform.learner.user,
    pools,
    redis: redis(),
    eventsPrefix: name,
    now,
  });
  const claimedAt = claimed.environment.claimedAt ?? clock.now;
  const lab: Lab = {
    id,
    clock,
    store,
    activity,
    reaper,
    access,
    events,
    privateKey: claimed.connection.privateKey ?? assert.fail('a generated learner key'),
    connection: claimed.connection,
    environment: claimed.environment,
    async passAt(minutes) {
      clock.now = claimedAt + minutes * MINUTE;
      return await reaper.reap(await store.list());
    },
    current: () => store.get(id),
    async event(kind) {
      const deadline = Date.now() + 5_000;
      for (;;) {
        const found = events.find((e) => e.kind === kind);
        if (found !== undefined) return found;
        assert.ok(Date.now() < deadline, `no ${kind} event within 5 s; got ${JSON.stringify(events)}`);
        await sleep(20);
      }
    },
  };
  await waitForSessions(lab, 0);
  return lab;
}

/**
 * A real interactive SSH session as the learner (a shell on a terminal), open until `close()`,
 * through the lab's NodePort as the claim hands it out.
 */
async function learnerShell(lab: Lab): Promise<{ type(text: string): void; close(): void }> {
  const cp = (await lab.access.targets(lab.environment)).nodes.cp ?? assert.fail('cp');
  const login = () => {
    const client = new Client();
    return new Promise<Client>((resolve, reject) => {
      client.once('ready', () => resolve(client)).once('error', reject);
      client.connect({
        host: lab.connection.host,
        port: lab.connection.port,
        username: 'learner',
        privateKey: lab.privateKey,
        readyTimeout: 10_000,
        hostVerifier: (key: Buffer) => key.toString('base64') === (cp.hostKey.split(/\s+/)[1] ?? ''),
      });
    });
  };
  // kube-proxy opens a NodePort a moment after the claim saw its endpoint (docs/adr/0031): a
  // refused connect is tried again, anything else fails at once
  const client = await waitFor(login, {
    what: `a learner login at ${lab.connection.host}:${lab.connection.port}`,
    timeoutMs: 5_000,
    intervalMs: 200,
    isFinal: (error) => (error as NodeJS.ErrnoException).code !== 'ECONNREFUSED',
  });
  const stream = await new Promise<ClientChannel>((resolve, reject) =>
    client.shell({ term: 'xterm', rows: 24, cols: 80 }, (error, channel) => (error ? reject(error) : resolve(channel))),
  );
  stream.on('data', () => {});
  return {
    type: (text) => stream.write(text),
    close: () => client.end(),
  };
}

/** Polls until the lab's probe sees (or no longer sees) a learner session, with a deadline. */
async function waitForSessions(lab: Lab, expected: number): Promise<LearnerSession[]> {
  const ssh = createSshRunner({ reuseConnectionsMs: 0 });
  const nodes = (await lab.access.targets(lab.environment)).nodes;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const sessions = (await probeLearnerSessions(ssh, nodes, 'learner')).flatMap((n) => n.sessions);
    if (sessions.length === expected) {
      ssh.close();
      return sessions;
    }
    assert.ok(Date.now() < deadline, `the probe saw ${sessions.length} learner sessions, expected ${expected}`);
    await sleep(100);
  }
}

describe('idle reaping', { timeout: 180_000 }, () => {
  let lab: Lab;
  before(async () => {
    // One lab for the cases that end in no release; the others claim their own.
    lab = await claimedLab({ idleMinutes: 10 });
  });

  test('a lab with an open learner SSH session survives well past idleMinutes', async () => {
    const shell = await learnerShell(lab);
    try {
      shell.type('echo hello\n');
      const [session] = await waitForSessions(lab, 1);
      // The node's own view: a terminal, used seconds ago.
      assert.match(session?.tty ?? '', /^pts\/\d+$/);
      assert.ok((session?.idleSeconds ?? Number.NaN) < 60, JSON.stringify(session));
      for (const minutes of [6, 11, 17, 30]) {
        const report = await lab.passAt(minutes);
        assert.deepEqual(report.warned, [], `warned at +${minutes} min`);
        assert.deepEqual(report.released, []);
        shell.type('kubectl get nodes\n');
      }
      const env = await lab.current();
      assert.equal(env.state, 'claimed');
      assert.equal(env.idle, undefined);
    } finally {
      shell.close();
    }
    await waitForSessions(lab, 0);
  });

  test('an open browser terminal keeps the lab, and closing it starts the idle time', async () => {
    const close = await lab.activity.terminalOpened(lab.id);
    const last = (await lab.current()).claimedAt ?? 0;
    let report = await lab.passAt(60);
    assert.deepEqual(report.warned, []);
    report = await lab.passAt(90);
    assert.deepEqual(report.warned, []);
    await close();
    // Closed at +90: warned from +95 on, not before.
    report = await lab.passAt(94);
    assert.deepEqual(report.warned, []);
    report = await lab.passAt(95);
    assert.deepEqual(report.warned, [lab.id]);
    const warning = await lab.event('idle-warning');
    assert.equal(warning.kind === 'idle-warning' && warning.releaseAt, last + 100 * MINUTE);
    // And an extension withdraws the warning at the next pass.
    await lab.store.extend(lab.id, 15 * MINUTE, 1_200 * MINUTE);
    report = await lab.passAt(96);
    assert.deepEqual(report.reset, [lab.id]);
    await lab.event('activity-reset');
    assert.equal((await lab.current()).idle, undefined);
    assert.equal((await lab.current()).state, 'claimed');
  });

  test('a probe that fails never releases the lab (unreachable is not idle)', async () => {
    const env = await lab.current();
    // The lab's node now presents a key other than the pinned one: every probe fails.
    const hostKeys = env.hostKeys ?? {};
    await lab.store.setHostKeys(lab.id, { cp: generateEd25519('not-the-lab').publicKey });
    try {
      for (const minutes of [200, 300, 400]) {
        const report = await lab.passAt(minutes);
        assert.deepEqual(report.unreachable, [lab.id]);
        assert.deepEqual(report.warned, []);
        assert.deepEqual(report.released, []);
      }
      assert.equal((await lab.current()).state, 'claimed');
    } finally {
      await lab.store.setHostKeys(lab.id, hostKeys);
    }
  });

  test('an abandoned lab is warned, then released with reason idle', async () => {
    const abandoned = await claimedLab({ idleMinutes: 10, idleWarningMinutes: 3 });
    assert.deepEqual((await abandoned.passAt(6.5)).warned, [], 'not before idleMinutes - idleWarningMinutes');
    const warnedPass = await abandoned.passAt(7);
    assert.deepEqual(warnedPass.warned, [abandoned.id]);
    const warning = await abandoned.event('idle-warning');
    const releaseAt = (abandoned.environment.claimedAt ?? 0) + 10 * MINUTE;
    assert.equal(warning.kind === 'idle-warning' && warning.releaseAt, releaseAt);
    assert.match(warning.message, /released in 3 minutes/);
    assert.deepEqual((await abandoned.current()).idle, { warnedAt: releaseAt - 3 * MINUTE, releaseAt });

    assert.deepEqual((await abandoned.passAt(9.5)).released, []);
    const released = await abandoned.passAt(10.5);
    assert.deepEqual(released.released, [abandoned.id]);
    const env = await abandoned.current();
    assert.equal(env.state, 'releasing');
    assert.equal(env.ended?.reason, 'idle');
    assert.equal(env.idle, undefined);
    const ended = await abandoned.event('ended');
    assert.equal(ended.kind === 'ended' && ended.reason, 'idle');
    assert.match(ended.message, /after 10 minutes without activity/);
  });

  test('SSH activity between the warning and the release resets it', async () => {
    const comeback = await claimedLab({ idleMinutes: 10 });
    assert.deepEqual((await comeback.passAt(5.5)).warned, [comeback.id]);
    await comeback.event('idle-warning');
    const shell = await learnerShell(comeback);
    try {
      shell.type('uptime\n');
      await waitForSessions(comeback, 1);
      const report = await comeback.passAt(7);
      assert.deepEqual(report.reset, [comeback.id]);
      await comeback.event('activity-reset');
      assert.deepEqual((await comeback.passAt(10.5)).released, []);
      assert.equal((await comeback.current()).state, 'claimed');
    } finally {
      shell.close();
    }
    // Gone again. The +10.5 pass had no need to ask the nodes (the +7 activity was recent
    // enough), so the last activity seen is the terminal's at +7: warned from +12 on.
    await waitForSessions(comeback, 0);
    assert.deepEqual((await comeback.passAt(11.5)).warned, []);
    assert.deepEqual((await comeback.passAt(12.5)).warned, [comeback.id]);
    // Input in a browser terminal before the release (+17) withdraws the warning too.
    comeback.clock.now += 2 * MINUTE;
    await comeback.activity.touch(comeback.id);
    const report = await comeback.passAt(15);
    assert.deepEqual(report.reset, [comeback.id]);
    assert.deepEqual(report.released, []);
    assert.deepEqual((await comeback.passAt(17.5)).released, []);
    assert.equal((await comeback.current()).state, 'claimed');
  });

  test('a pool without idleMinutes never idles a lab', async () => {
    const forever = await claimedLab({});
    const report = await forever.passAt(24 * 60);
    assert.deepEqual(report, { warned: [], reset: [], released: [], unreachable: [] });
    assert.equal((await forever.current()).state, 'claimed');
    assert.deepEqual(forever.events, []);
    // A warning from before the pool stopped idling labs out is withdrawn at the next pass.
    await forever.store.warnIdle(forever.id, { warnedAt: forever.clock.now, releaseAt: forever.clock.now + MINUTE });
    assert.deepEqual((await forever.passAt(24 * 60 + 2)).reset, [forever.id]);
    assert.equal((await forever.current()).idle, undefined);
    assert.equal((await forever.current()).state, 'claimed');
  });
});

describe('idle configuration and the session probe', () => {
  test('idleWarningMinutes must be below idleMinutes, and needs it', () => {
    const pool = { name: 'p', kubernetesVersion: '1.36', workers: 0, min: 0, max: 1 };
    assert.throws(
      () => parsePoolsConfig({ pools: [{ ...pool, idleMinutes: 10, idleWarningMinutes: 10 }] }),
      /idleWarningMinutes: idleWarningMinutes must be less than idleMinutes/,
    );
    assert.throws(
      () => parsePoolsConfig({ pools: [{ ...pool, idleWarningMinutes: 2 }] }),
      /idleWarningMinutes needs idleMinutes/,
    );
    assert.throws(() => parsePoolsConfig({ pools: [{ ...pool, idleMinutes: 1 }] }), /idleMinutes/);
  });

  test('probe output: sessions by terminal; no marker is an error, not "nobody"', () => {
    assert.deepEqual(
      parseSessionProbe('cp', 'breakfix-sessions\nsession pts/0 12\nsession notty -\nsession pts/0 12\n'),
      [{ tty: 'pts/0', idleSeconds: 12 }, { tty: 'notty' }],
    );
    assert.deepEqual(parseSessionProbe('cp', 'breakfix-sessions\n'), []);
    assert.throws(() => parseSessionProbe('cp', 'sh: tr: not found\n'), /node cp: the session probe printed no result/);
  });
});
