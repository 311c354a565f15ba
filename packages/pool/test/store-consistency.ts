import { ENVIRONMENT_STATES, type EnvironmentState } from '@breakfix/core';
import type { Redis } from 'ioredis';
import { environmentKeys } from '../src/environment-store.js';

/** Everything the environment store keeps under one prefix, read key by key (not through the store). */
export interface StoreSnapshot {
  /** Environment id -> the fields of its record. */
  records: Map<string, Record<string, string>>;
  /** Learner -> the environment id their key names. */
  learners: Map<string, string>;
  pools: Map<string, PoolKeys>;
  /** Keys under the prefix that none of the store's key helpers names. */
  unknown: string[];
}

interface PoolKeys {
  ready: Map<string, number>;
  provisioning: Set<string>;
  waiting: Map<string, number>;
  seen: Set<string>;
  seq: number;
}

/**
 * Reads every key under `prefix`, classified with the store's own key helpers (environmentKeys):
 * records, learner keys, and each pool's ready, provisioning and waiting keys.
 */
export async function readStore(redis: Redis, prefix: string): Promise<StoreSnapshot> {
  const keys = environmentKeys(prefix);
  const all: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    all.push(...batch);
  } while (cursor !== '0');

  const snapshot: StoreSnapshot = { records: new Map(), learners: new Map(), pools: new Map(), unknown: [] };
  const rest: string[] = [];
  for (const key of all) {
    if (key.startsWith(keys.env(''))) {
      snapshot.records.set(key.slice(keys.env('').length), await redis.hgetall(key));
    } else if (key.startsWith(keys.learner(''))) {
      snapshot.learners.set(key.slice(keys.learner('').length), (await redis.get(key)) ?? '');
    } else {
      rest.push(key);
    }
  }
  const pools = new Set([...snapshot.records.values()].map((fields) => fields.pool ?? ''));
  const named = new Set<string>();
  for (const pool of pools) {
    const withScores = async (key: string) => {
      named.add(key);
      const flat = await redis.zrange(key, 0, -1, 'WITHSCORES');
      return new Map(flat.flatMap((member, i) => (i % 2 === 0 ? [[member, Number(flat[i + 1])] as const] : [])));
    };
    named.add(keys.provisioning(pool)).add(keys.waitingSeq(pool));
    snapshot.pools.set(pool, {
      ready: await withScores(keys.ready(pool)),
      provisioning: new Set(await redis.smembers(keys.provisioning(pool))),
      waiting: await withScores(keys.waiting(pool)),
      seen: new Set((await withScores(keys.waitingSeen(pool))).keys()),
      seq: Number((await redis.get(keys.waitingSeq(pool))) ?? 0),
    });
  }
  named.add(keys.poolPlans).add(keys.poolFailures);
  snapshot.unknown = rest.filter((key) => !named.has(key));
  return snapshot;
}

/**
 * What the store promises about its keys, as a list of broken promises (empty when it holds):
 * every record is whole; a claimed record and its learner's key name each other, so no lab has
 * two learners and no learner two labs; the ready and provisioning sets are exactly the records
 * in those states; the waiting queue is consistent with itself and holds no one who has a lab.
 */
export function storeProblems(snapshot: StoreSnapshot): string[] {
  const problems: string[] = [];
  const heldBy = new Map<string, string[]>();
  for (const [id, fields] of snapshot.records) {
    const state = fields.state as EnvironmentState;
    if (fields.id !== id) problems.push(`record ${id} names itself ${fields.id}`);
    for (const field of ['pool', 'namespace', 'createdAt', 'updatedAt'])
      if (fields[field] === undefined) problems.push(`record ${id} has no ${field}`);
    if (!ENVIRONMENT_STATES.includes(state)) problems.push(`record ${id} is in no known state (${fields.state})`);
    const pool = snapshot.pools.get(fields.pool ?? '');
    if ((state === 'ready') !== (pool?.ready.has(id) ?? false))
      problems.push(`record ${id} is ${state} but ${state === 'ready' ? 'not in' : 'in'} the ready set`);
    if ((state === 'provisioning') !== (pool?.provisioning.has(id) ?? false))
      problems.push(`record ${id} is ${state} but ${state === 'provisioning' ? 'not in' : 'in'} the provisioning set`);
    if (state !== 'claimed') continue;
    const learner = fields.learner;
    if (learner === undefined) {
      problems.push(`record ${id} is claimed by no learner`);
      continue;
    }
    for (const field of ['scenario', 'claimedAt', 'expiresAt'])
      if (fields[field] === undefined) problems.push(`claimed record ${id} has no ${field}`);
    if (Number(fields.expiresAt) <= Number(fields.claimedAt)) problems.push(`claimed record ${id} expires as claimed`);
    heldBy.set(learner, [...(heldBy.get(learner) ?? []), id]);
    const key = snapshot.learners.get(learner);
    if (key !== id) problems.push(`record ${id} is claimed by ${learner}, whose key names ${key ?? 'nothing'}`);
  }
  for (const [learner, ids] of heldBy)
    if (ids.length > 1) problems.push(`learner ${learner} holds ${ids.length} labs: ${ids.sort().join(', ')}`);

  const keyHolders = new Map<string, string[]>();
  for (const [learner, id] of snapshot.learners) {
    keyHolders.set(id, [...(keyHolders.get(id) ?? []), learner]);
    const record = snapshot.records.get(id);
    if (record?.state !== 'claimed' || record.learner !== learner)
      problems.push(
        `learner ${learner}'s key names ${id}, which is ${record?.state ?? 'missing'} for ${record?.learner}`,
      );
  }
  for (const [id, learners] of keyHolders)
    if (learners.length > 1) problems.push(`lab ${id} is named by ${learners.length} learners: ${learners.join(', ')}`);

  for (const [name, pool] of snapshot.pools) {
    const inPool = (id: string, state: EnvironmentState) =>
      snapshot.records.get(id)?.pool === name && snapshot.records.get(id)?.state === state;
    for (const id of pool.ready.keys()) if (!inPool(id, 'ready')) problems.push(`pool ${name} lists ${id} as ready`);
    for (const id of pool.provisioning)
      if (!inPool(id, 'provisioning')) problems.push(`pool ${name} lists ${id} as provisioning`);
    const waiting = [...pool.waiting.keys()];
    if (waiting.length !== pool.seen.size || waiting.some((learner) => !pool.seen.has(learner)))
      problems.push(`pool ${name}: the waiting queue and its last-asked times name different learners`);
    const arrivals = [...pool.waiting.values()];
    if (
      new Set(arrivals).size !== arrivals.length ||
      arrivals.some((n) => !Number.isInteger(n) || n < 1 || n > pool.seq)
    )
      problems.push(`pool ${name}: waiting arrival numbers are not distinct numbers up to ${pool.seq}`);
    for (const learner of waiting) {
      const held = snapshot.learners.get(learner);
      if (held !== undefined && snapshot.records.get(held)?.pool === name)
        problems.push(`learner ${learner} waits in pool ${name} while holding ${held} there`);
    }
  }
  for (const key of snapshot.unknown) problems.push(`key ${key} is none of the store's`);
  return problems;
}
