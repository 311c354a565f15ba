import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@breakfix/core';
import { createKube } from '@breakfix/kube';
import { parseLabSpec, parsePoolsConfig } from '@breakfix/manifests';
import { createLabActivity, EnvironmentStore, type LabActivity } from '@breakfix/pool';
import { loadCatalog, type Scenario } from '@breakfix/scenarios';
import { uniqueName, useSandbox } from '@breakfix/testkit';
import { serve } from '@hono/node-server';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { simulatedLabs } from '../../../packages/pool/test/simulated-labs.js';
import { wireOrchestrator } from '../src/wire.js';
import { SCENARIO, TOKENS } from './fixture.js';
import type { ReplicaSettings } from './replica.js';

// Two orchestrator replicas on one Redis, as behind one Service: the learner's terminal on A,
// observers on B (a process of its own, so it can die without a clean close).

/** Watchers and the watched terminal are renewed this often and expire after three of these. */
const HEARTBEAT_MS = 1_000;
/** What B queues for one observer before dropping it. */
const OBSERVER_BUFFER = 64 * 1024;
const WAIT_MS = 20_000;
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers) await close().catch(() => undefined);
});

let a: string;
let labId: string;
let settings: ReplicaSettings;
let activity: LabActivity;

/** A socket and everything it was sent: output as text, control messages, and how it closed. */
class Client {
  output = '';
  readonly controls: Record<string, unknown>[] = [];
  closed?: { code: number; reason: string };
  constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.output += data.toString();
      else this.controls.push(JSON.parse(data.toString()) as Record<string, unknown>);
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
    socket.on('error', () => undefined);
  }
  static async open(url: string, origin: string, cookie: string): Promise<Client> {
    const client = new Client(new WebSocket(url, { origin, headers: { Cookie: cookie } }));
    await new Promise<void>((resolve, reject) => {
      client.socket.once('open', () => resolve());
      client.socket.once('close', (code, reason) => reject(new Error(`closed ${code}: ${reason}`)));
    });
    return client;
  }
  type(line: string): void {
    this.socket.send(JSON.stringify({ t: 'i', d: `${line}\r` }));
  }
  until(what: string, seen: () => boolean): Promise<true> {
    return waitFor(async () => (seen() ? true : undefined), { what, timeoutMs: WAIT_MS, intervalMs: 20 }).catch(
      (error: unknown) => {
        throw new Error(`${(error as Error).message}; output: ${JSON.stringify(this.output.slice(-400))}`, {
          cause: error,
        });
      },
    );
  }
  untilOutput(pattern: RegExp): Promise<true> {
    return this.until(`output matching ${pattern}`, () => pattern.test(this.output));
  }
  /** The last watcher count this learner was told (the banner shows while it is above 0). */
  watchers(): number | undefined {
    return this.controls.filter((c) => c.t === 'watchers').at(-1)?.count as number | undefined;
  }
  status(): string | undefined {
    return this.controls.filter((c) => c.t === 'status').at(-1)?.text as string | undefined;
  }
}

/** Replica B: the same wiring in a child process. Resolves with its base URL once it listens. */
async function startReplicaB(extra: Partial<ReplicaSettings> = {}): Promise<{ base: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./replica.ts', import.meta.url))], {
    env: { ...process.env, BREAKFIX_REPLICA: JSON.stringify({ ...settings, ...extra }) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  closers.unshift(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const port = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('replica B did not listen within 60 s')), 60_000);
    let said = '';
    child.stdout?.on('data', (data: Buffer) => {
      said += data.toString();
      const match = /listening (\d+)/.exec(said);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`replica B exited with ${code}`)));
  });
  return { base: `http://127.0.0.1:${port}`, child };
}

/** The learner's browser on A: a one-time link spent for the lab's session cookie, then the socket. */
async function learnerOnA(): Promise<Client> {
  return learnerOn(a, await sessionCookie());
}

/** A learner's browser session: a one-time link from A, spent for the lab-scoped cookie. */
async function sessionCookie(): Promise<string> {
  const linked = await fetch(`${a}/v1/labs/${labId}/terminal-link`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKENS.bot.token}` },
  });
  assert.equal(linked.status, 201);
  const { url } = (await linked.json()) as { url: string };
  const page = await fetch(url);
  assert.equal(page.status, 200);
  const cookie = /breakfix_terminal=[^;]+/.exec(page.headers.get('set-cookie') ?? '')?.[0];
  assert.ok(cookie !== undefined, 'the link sets the session cookie');
  return cookie;
}

/** A learner's terminal on the replica at `base` (the session lives in Redis: any replica takes it). */
async function learnerOn(base: string, cookie: string): Promise<Client> {
  const learner = await Client.open(`${base.replace('http', 'ws')}/labs/${labId}/terminal/socket`, base, cookie);
  await learner.until('the learner to be connected', () => learner.status() === 'connected');
  return learner;
}

const observerOn = (base: string) =>
  Client.open(
    `${base.replace('http', 'ws')}/admin/labs/${labId}/terminal/socket`,
    base,
    `breakfix_token=${TOKENS.instructor.token}`,
  );

before(async () => {
  // Given one lab claimed by grace through replica A, and the settings for replica B
  const { info } = await useSandbox();
  const name = uniqueName('rep');
  const prefix = `${name}:`;
  const redis = new Redis(info.redisUrl, { maxRetriesPerRequest: null });
  closers.push(async () => redis.disconnect());
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const store = new EnvironmentStore({ redis, prefix });
  const { operatorKey, platform, provisioner, ssh } = simulatedLabs(kube, store);
  closers.push(async () => ssh.close());
  const rawPools = {
    pools: [{ name: `${name}-0w`, kubernetesVersion: '1.36', workers: 0, size: 'small', min: 1, max: 1 }],
  };
  const id = uniqueName('e');
  assert.equal(
    await provisioner.provision({
      id,
      pool: `${name}-0w`,
      spec: parseLabSpec({ labId: id, kubernetesVersion: '1.36' }),
    }),
    'ready',
  );
  const sim = loadCatalog().get(SCENARIO) ?? assert.fail(`scenario ${SCENARIO} is in the catalog`);
  const tokens = Object.values(TOKENS);
  const orchestrator = wireOrchestrator({
    redisUrl: info.redisUrl,
    kube,
    pools: parsePoolsConfig(rawPools),
    platform,
    operatorKey,
    catalog: new Map<string, Scenario>([[SCENARIO, sim]]),
    tokens,
    prefix,
    scenarioStateDir: '/tmp/breakfix-scenario-state',
    keepConnectionsEveryMs: 0,
    terminals: { watchHeartbeatMs: HEARTBEAT_MS },
  });
  const server = serve({ fetch: orchestrator.app.fetch, port: 0, hostname: '127.0.0.1' });
  orchestrator.terminals.attach(server);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  // The orchestrator first: it drops every open socket, which the server's close waits for.
  closers.unshift(async () => {
    await orchestrator.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  a = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  activity = createLabActivity({ redis, prefix: name });
  settings = {
    redisUrl: info.redisUrl,
    kubeconfig: info.kubeconfig,
    prefix,
    tokens,
    operatorKey,
    pools: rawPools,
    watchHeartbeatMs: HEARTBEAT_MS,
  };

  const claimed = await fetch(`${a}/v1/labs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKENS.bot.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ learner: 'grace', scenario: SCENARIO }),
  });
  assert.equal(claimed.status, 201, await claimed.clone().text());
  labId = ((await claimed.json()) as { lab: { id: string } }).lab.id;
});

test('an observer on replica B watches a terminal on replica A live and read-only; the banner follows', {
  timeout: 180_000,
}, async () => {
  const b = await startReplicaB();
  const learner = await learnerOnA();
  learner.type('echo before-$((40+2))');
  await learner.untilOutput(/\r\nbefore-42\r\n/);
  assert.equal(learner.watchers() ?? 0, 0, 'nobody watches yet');

  // When an instructor opens the watch on replica B
  const observer = await observerOn(b.base);

  // Then B shows what the learner's screen held, at the learner's size, and the learner on A is told
  await observer.until('the observer to be watching', () => observer.status() === 'watching');
  await observer.untilOutput(/before-42/);
  assert.deepEqual(
    observer.controls.filter((c) => c.t === 'size').at(-1),
    { t: 'size', cols: 80, rows: 24 },
    "laid out at the learner's size",
  );
  await learner.until('the banner on A', () => learner.watchers() === 1);

  // And what the learner runs now reaches B live
  learner.type('echo watched-$((2*3))');
  await observer.untilOutput(/\r\nwatched-6\r\n/);

  // And nothing the observer sends reaches the lab: keystrokes, a resize, raw bytes
  observer.type('echo typed-by-$((100+1))');
  observer.socket.send(JSON.stringify({ t: 'r', cols: 33, rows: 11 }));
  observer.socket.send(Buffer.from('echo raw-$((7*11))\r'));
  learner.type('echo after-$((3*3)); stty size');
  await learner.untilOutput(/\r\nafter-9\r\n24 80\r\n/);
  await observer.untilOutput(/\r\nafter-9\r\n24 80\r\n/);
  assert.doesNotMatch(learner.output, /typed-by|101|raw-|77/);

  // When the observer leaves cleanly, the banner goes
  observer.socket.close();
  await learner.until('the banner to go after a clean leave', () => learner.watchers() === 0);

  // When another observer watches from B and B dies without closing anything, the banner goes too
  const second = await observerOn(b.base);
  await learner.until('the banner for the second observer', () => learner.watchers() === 1);
  const killedAt = Date.now();
  b.child.kill('SIGKILL');
  await learner.until('the banner to go after B died', () => learner.watchers() === 0);
  assert.ok(Date.now() - killedAt >= 2 * HEARTBEAT_MS, 'gone by expiry, not by a message from B');
  await second.until('the dead replica to drop its socket', () => second.closed !== undefined);

  // And the learner's shell on A never noticed
  learner.type('echo still-$((5*5))');
  await learner.untilOutput(/\r\nstill-25\r\n/);
  learner.socket.close();
});

test('when the watched terminal closes, observers follow the lab terminal open on the other replica', {
  timeout: 180_000,
}, async () => {
  const b = await startReplicaB();
  closers.unshift(async () => {
    b.child.stdin?.end();
  });
  const first = await learnerOnA();
  first.type('echo first-$((1+1))');
  await first.untilOutput(/\r\nfirst-2\r\n/);
  const observer = await observerOn(b.base);
  await observer.untilOutput(/first-2/);

  // Given a second terminal of the same learner, open on replica B (its own cookie from a new link)
  const linked = await fetch(`${a}/v1/labs/${labId}/terminal-link`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKENS.bot.token}` },
  });
  const { url } = (await linked.json()) as { url: string };
  const page = await fetch(url.replace(a, b.base));
  const cookie = /breakfix_terminal=[^;]+/.exec(page.headers.get('set-cookie') ?? '')?.[0] ?? '';
  const second = await Client.open(`${b.base.replace('http', 'ws')}/labs/${labId}/terminal/socket`, b.base, cookie);
  await second.until('the second terminal to connect', () => second.status() === 'connected');
  await second.until('the banner on B too', () => second.watchers() === 1);
  second.type('echo second-$((2+2))');
  await second.untilOutput(/\r\nsecond-4\r\n/);
  assert.doesNotMatch(observer.output, /second-4/, 'observers follow one terminal, the oldest');

  // When the watched terminal on A closes
  const resets = observer.controls.filter((c) => c.t === 'reset').length;
  first.socket.close();

  // Then the observer is switched to B's terminal (a reset, then its screen) and follows it live
  await observer.until('a reset', () => observer.controls.filter((c) => c.t === 'reset').length > resets);
  await observer.untilOutput(/second-4/);
  second.type('echo handed-$((3+3))');
  await observer.untilOutput(/\r\nhanded-6\r\n/);
  observer.socket.close();
  await second.until('the banner to go on B', () => second.watchers() === 0);
  second.socket.close();
});

test('an observer that does not read is dropped once its queue passes the bound; the learner goes on', {
  timeout: 180_000,
}, async () => {
  const b = await startReplicaB({ maxObserverBufferBytes: OBSERVER_BUFFER });
  closers.unshift(async () => {
    b.child.stdin?.end();
  });
  const learner = await learnerOnA();
  const observer = await observerOn(b.base);
  await observer.until('the observer to be watching', () => observer.status() === 'watching');

  // When the observer stops reading and the learner's shell prints far more than the bound
  (observer.socket as unknown as { pause(): void }).pause();
  learner.type('head -c 6000000 /dev/zero | tr "\\0" x; echo; echo printed-$((8*8))');
  await learner.untilOutput(/\r\nprinted-64\r\n/);

  // Then B dropped the observer (its page would reconnect and start from the recent screen)
  (observer.socket as unknown as { resume(): void }).resume();
  await observer.until('the observer to be dropped', () => observer.closed !== undefined);
  assert.deepEqual(observer.closed, { code: 4011, reason: 'fell behind the terminal; catching up' });
  assert.ok(observer.output.length < 6_000_000, 'it never got the whole output');
  learner.socket.close();
});

test('the cap of 4 browser terminals per lab holds across replicas', { timeout: 180_000 }, async () => {
  const b = await startReplicaB();
  closers.unshift(async () => {
    b.child.stdin?.end();
  });
  // Given no terminal left open on the lab by the tests before
  await waitFor(async () => ((await activity.openTerminals(labId)) === 0 ? true : undefined), {
    what: 'earlier terminals to be unregistered',
    timeoutMs: WAIT_MS,
  });
  // When the learner opens two tabs that reach A and two that reach B
  const cookie = await sessionCookie();
  const tabs = [
    await learnerOn(a, cookie),
    await learnerOn(b.base, cookie),
    await learnerOn(a, cookie),
    await learnerOn(b.base, cookie),
  ];
  // Then a fifth is refused on either replica, though each holds only two
  for (const base of [b.base, a]) {
    const fifth = new Client(
      new WebSocket(`${base.replace('http', 'ws')}/labs/${labId}/terminal/socket`, {
        origin: base,
        headers: { Cookie: cookie },
      }),
    );
    await fifth.until('the fifth tab to be closed', () => fifth.closed !== undefined);
    assert.deepEqual(fifth.closed, {
      code: 4003,
      reason: '4 browser terminals are open on this lab already: close one, then reload',
    });
  }
  for (const tab of tabs) tab.socket.close();
});
