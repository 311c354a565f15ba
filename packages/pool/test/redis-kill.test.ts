import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type StartedRedis, startRedis } from '@breakfix/sandbox';
import { Redis } from 'ioredis';
import { EnvironmentStore, LearnerHasLabError, PoolExhaustedError } from '../src/index.js';
import { readStore, type StoreSnapshot, storeProblems } from './store-consistency.js';

// redis-server is SIGKILLed while learners claim, under production's AOF settings, and restarted
// on its data. What survives is decided by Redis, not by us: each claim is one Lua script, whose
// writes Redis appends to the AOF as one MULTI/EXEC block (a torn block is dropped at load). With
// `appendfsync everysec` the block is written to the file (not yet fsynced, which only a machine
// crash needs) before the reply leaves, except while a slow background fsync holds writes back, for
// up to 2 s (flushAppendOnlyFile in https://github.com/redis/redis/blob/7.0/src/aof.c).
// So the honest promise is: the store after a restart is the store after some prefix of the
// claims Redis ran. Claims acknowledged before the kill survive, or (a slow disk) are lost from
// the end, and a lost one is visible as such: its lab is ready again and its learner holds nothing.
// Nothing has to repair the store: the pool worker's reconciler compares it with Kubernetes only
// (namespaces, NodePort Services). What ends leases after a restart is the reaper (`expire`), run here.

const PRODUCTION_CONF = fileURLToPath(new URL('../../../infra/base/redis/redis.conf', import.meta.url));
// Kills early, as the pool runs out, and while learners queue (the answers 11, 40 and 60)
const SEEDS = [0x5eed01, 0x5eed03, 0x5eed0a];
const LABS = 40;
const LEARNERS = 90; // more than labs: the last ones queue
const REPEATS = 30; // learners who click twice
const CONNECTIONS = 4; // orchestrator replicas, a connection each
const IN_FLIGHT = 4; // claims awaiting an answer on each connection
const TTL_MS = 3_600_000;
const PREFIX = 'kill:';

type Outcome =
  | { kind: 'claimed'; id: string; ack: number }
  | { kind: 'held'; id: string }
  | { kind: 'queued' }
  | { kind: 'failed'; error: string };

interface Call {
  learner: string;
  connection: number;
  outcome: Outcome;
}

const dir = mkdtempSync(join(tmpdir(), 'redis-kill-'));
const clients: Redis[] = [];
let server: StartedRedis | undefined;
after(async () => {
  for (const client of clients) client.disconnect();
  await server?.process.stop(2_000);
  rmSync(dir, { recursive: true, force: true });
});

/** production's `appendonly` and `appendfsync`, read from the config Redis runs with in the cluster. */
function productionPersistence(): 'always' | 'everysec' | 'no' {
  const settings = new Map(
    readFileSync(PRODUCTION_CONF, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.trim().startsWith('#'))
      .map((line) => line.trim().split(/\s+/) as [string, string]),
  );
  assert.equal(settings.get('appendonly'), 'yes', `${PRODUCTION_CONF}: production runs an AOF`);
  const fsync = settings.get('appendfsync');
  assert.ok(fsync === 'always' || fsync === 'everysec' || fsync === 'no', `${PRODUCTION_CONF}: appendfsync ${fsync}`);
  return fsync;
}

/** mulberry32: each round's order and kill moment come from its seed, so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A connected client; a `fragile` one neither reconnects nor queues, so a call in flight when the server dies fails. */
async function connect(url: string, fragile: boolean): Promise<Redis> {
  const client = new Redis(url, {
    lazyConnect: true,
    ...(fragile ? { retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false } : {}),
  });
  client.on('error', () => undefined); // the kill resets every connection; the calls report it
  clients.push(client);
  await client.connect();
  return client;
}

/**
 * Learners claim through every connection, `IN_FLIGHT` at a time on each (so Redis is never far
 * ahead of its answers), and keep claiming until their connection dies; redis-server is SIGKILLed
 * when the `killAfter`-th claim is answered (a lab, the lab they hold, or a place in the queue).
 * The moment is a point in the claims' progress, not on the clock: on a busy machine a delay
 * would sometimes land before the first claim or after the last.
 */
async function claimUntilKilled(running: StartedRedis, pool: string, seed: number, killAfter: number) {
  const rand = random(seed);
  const learners = Array.from({ length: LEARNERS }, (_, i) => `s${seed.toString(16)}-learner-${i}`);
  const order = [...learners, ...learners.slice(0, REPEATS)];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j] as string, order[i] as string];
  }
  const stores = await Promise.all(
    Array.from(
      { length: CONNECTIONS },
      async () => new EnvironmentStore({ redis: await connect(running.url, true), prefix: PREFIX }),
    ),
  );
  const calls: Call[] = [];
  const acks = Array.from({ length: CONNECTIONS }, () => 0);
  let next = 0;
  let answered = 0;
  const claimer = async (connection: number) => {
    const store = stores[connection] as EnvironmentStore;
    while (next < order.length) {
      const learner = order[next++] as string;
      const outcome = await store.claim({ pool, learner, scenario: 'kill', ttlMs: TTL_MS }).then(
        (env): Outcome => {
          // Acknowledgements on one connection arrive in the order Redis ran the claims.
          const ack = acks[connection] ?? 0;
          acks[connection] = ack + 1;
          return { kind: 'claimed', id: env.id, ack };
        },
        (error: unknown): Outcome => {
          if (error instanceof LearnerHasLabError) return { kind: 'held', id: error.environmentId };
          if (error instanceof PoolExhaustedError) return { kind: 'queued' };
          return { kind: 'failed', error: (error as Error).message };
        },
      );
      if (outcome.kind !== 'failed' && ++answered === killAfter) process.kill(running.process.pid, 'SIGKILL');
      calls.push({ learner, connection, outcome });
      if (outcome.kind === 'failed') return; // the server is gone: this replica's calls fail from now on
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS * IN_FLIGHT }, async (_, i) => await claimer(i % CONNECTIONS)));
  return calls;
}

/** The strongest promise the AOF gives (see the top of the file), checked call by call. */
function durabilityProblems(calls: readonly Call[], restored: StoreSnapshot, pool: string): string[] {
  const problems: string[] = [];
  const survived = (learner: string, id: string) =>
    restored.records.get(id)?.state === 'claimed' && restored.records.get(id)?.learner === learner;
  for (let connection = 0; connection < CONNECTIONS; connection++) {
    const acked = calls
      .filter((c) => c.connection === connection && c.outcome.kind === 'claimed')
      .map((c) => ({ learner: c.learner, ...(c.outcome as Outcome & { kind: 'claimed' }) }))
      .sort((a, b) => a.ack - b.ack);
    const firstLost = acked.findIndex((c) => !survived(c.learner, c.id));
    if (firstLost === -1) continue;
    for (const claim of acked.slice(firstLost)) {
      if (survived(claim.learner, claim.id))
        problems.push(`${claim.learner}'s claim of ${claim.id} survived one acknowledged before it that was lost`);
      else if (restored.records.get(claim.id)?.state !== 'ready' || restored.learners.has(claim.learner))
        problems.push(
          `${claim.learner}'s lost claim of ${claim.id} is not visibly lost (lab not ready, or learner holds one)`,
        );
    }
  }
  for (const [id, fields] of restored.records) {
    if (fields.pool !== pool || fields.state !== 'claimed') continue;
    const own = calls.filter((c) => c.learner === fields.learner);
    const explained = own.some(
      (c) => c.outcome.kind === 'failed' || (c.outcome.kind === 'claimed' && c.outcome.id === id),
    );
    if (!explained)
      problems.push(`${fields.learner} holds ${id} but was never given it, nor left waiting for an answer`);
  }
  for (const call of calls) {
    if (call.outcome.kind !== 'held') continue;
    const now = restored.learners.get(call.learner);
    if (now !== undefined && now !== call.outcome.id)
      problems.push(`${call.learner} was told they hold ${call.outcome.id}, and hold ${now} after the restart`);
  }
  return problems;
}

test('redis-server SIGKILLed mid-claims under appendfsync everysec: no lab twice, no learner twice, store consistent', {
  timeout: 60_000,
}, async (t) => {
  const appendfsync = productionPersistence();
  server = await startRedis({ dir, startTimeoutMs: 10_000, persistence: 'aof', appendfsync });
  const port = Number(new URL(server.url).port);
  const restart = async () => {
    server = await startRedis({ dir, startTimeoutMs: 10_000, persistence: 'aof', appendfsync, port });
    return server;
  };

  for (const seed of SEEDS) {
    await t.test(`seed ${seed.toString(16)}`, async (t) => {
      const pool = `p${seed.toString(16)}`;
      const rand = random(~seed);
      // Anywhere from the first claims to the queue filling, with claims still to come after it
      const killAfter = 1 + Math.floor(rand() * (LEARNERS + REPEATS - 2 * CONNECTIONS * IN_FLIGHT));
      const running = server as StartedRedis;

      // Given a pool of ready labs on a redis-server with production's persistence
      const admin = await connect(running.url, false);
      assert.deepEqual(await admin.config('GET', 'appendfsync'), ['appendfsync', appendfsync]);
      const seeding = new EnvironmentStore({ redis: admin, prefix: PREFIX });
      await Promise.all(
        Array.from({ length: LABS }, async (_, i) => {
          const id = `${pool}-e${String(i).padStart(2, '0')}`;
          await seeding.create({ id, pool, namespace: `lab-${id}` });
          await seeding.apply(id, 'provisioned');
        }),
      );

      // When learners claim at once, and the server is SIGKILLed as the killAfter-th claim is answered
      const calls = await claimUntilKilled(running, pool, seed, killAfter);
      await running.process.exited;
      admin.disconnect();
      const restarted = await restart();
      const client = await connect(restarted.url, false);
      const snapshot = await readStore(client, PREFIX);

      const count = (kind: Outcome['kind']) => calls.filter((c) => c.outcome.kind === kind).length;
      const acked = calls.filter((c) => c.outcome.kind === 'claimed');
      const lost = acked.filter((c) => snapshot.records.get((c.outcome as { id: string }).id)?.state !== 'claimed');
      t.diagnostic(
        `killed at answer ${killAfter}: ${acked.length} labs handed out (${lost.length} lost), ${count('held')} told they hold one, ` +
          `${count('queued')} queued, ${count('failed')} in flight`,
      );
      assert.ok(calls.length - count('failed') >= killAfter, 'the kill came at the chosen answer');
      assert.ok(count('failed') > 0, 'the kill landed while claims were in flight');

      // Then the store is consistent on its own, and every acknowledged claim survived or is visibly lost
      assert.deepEqual(storeProblems(snapshot), []);
      assert.deepEqual(durabilityProblems(calls, snapshot, pool), []);

      // And it still works: a new lab is claimed, and a holder asking again is told which lab is theirs
      const store = new EnvironmentStore({ redis: client, prefix: PREFIX });
      await store.create({ id: `${pool}-after`, pool, namespace: `lab-${pool}-after` });
      await store.apply(`${pool}-after`, 'provisioned');
      const newcomer = await store.claim({ pool, learner: `${pool}-newcomer`, scenario: 'kill', ttlMs: TTL_MS });
      assert.equal((await store.heldBy(`${pool}-newcomer`))?.id, newcomer.id);
      const [holder, held] = [...snapshot.learners].find(([, id]) => snapshot.records.get(id)?.pool === pool) ?? [];
      if (holder !== undefined) {
        await assert.rejects(store.claim({ pool, learner: holder, scenario: 'kill', ttlMs: TTL_MS }), (error) => {
          assert.ok(error instanceof LearnerHasLabError);
          assert.equal(error.environmentId, held);
          return true;
        });
      }
      assert.deepEqual(storeProblems(await readStore(client, PREFIX)), []);

      // And when the reaper runs past every lease, every lab of the pool is released and every learner is free
      for (const env of (await store.list()).filter((e) => e.pool === pool && e.state === 'claimed')) {
        assert.deepEqual(await store.expire(env.id, env.expiresAt ?? 0), { outcome: 'expired' });
      }
      const reaped = await readStore(client, PREFIX);
      assert.deepEqual(storeProblems(reaped), []);
      assert.deepEqual(
        [...reaped.learners.values()].filter((id) => reaped.records.get(id)?.pool === pool),
        [],
        'no learner holds a lab of the pool',
      );
    });
  }
});
