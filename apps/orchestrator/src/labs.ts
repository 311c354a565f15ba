import { assertNever, ConflictError, NotFoundError } from '@breakfix/core';
import type { PoolConfig } from '@breakfix/manifests';
import type { Environment, EnvironmentStore, LabAccess, LabEndReason } from '@breakfix/pool';
import { ClaimPreparationError, PoolExhaustedError, requestTopUp } from '@breakfix/pool';
import type { Scenario, ScenarioRunner } from '@breakfix/scenarios';
import { parsePublicKey } from '@breakfix/ssh';
import type { Redis } from 'ioredis';
import { poolFor } from './pools.js';
import type { CheckResultBody, ClaimResultBody, ConnectionBody, HintBody, LabBody } from './schemas.js';

export interface LabServiceOptions {
  store: EnvironmentStore;
  access: Pick<LabAccess, 'claim' | 'release' | 'targets'>;
  runner: Pick<ScenarioRunner, 'applyBreak' | 'check'>;
  catalog: ReadonlyMap<string, Scenario>;
  pools: readonly PoolConfig[];
  /** For hints, registered keys and the failure log (the store keeps environments). */
  redis: Redis;
  /** The store's key prefix (queues of waiting learners live under it). */
  prefix: string;
  /** Queues the teardown of a released lab (the pool worker's `teardown` queue). */
  teardown: (id: string) => Promise<void>;
  /** A lab lives at most this many times its scenario's time limit, extensions included. Default 2. */
  maxLifetimeFactor?: number;
  now?: () => number;
  log?: (message: string) => void;
}

/** A failure an operator should see on the dashboard. */
export interface FailureRecord {
  at: number;
  lab: string;
  pool: string;
  learner?: string;
  scenario?: string;
  reason: string;
}

const FAILURES_KEPT = 50;

// Reveals the next hint: never past the last, and the counter lives as long as the lab may.
const NEXT_HINT = `local n = redis.call('INCR', KEYS[1])
if n > tonumber(ARGV[1]) then redis.call('DECR', KEYS[1]) return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n`;

/** The learner-facing operations on labs, over the pool's store and claim-time access. */
export function createLabService(options: LabServiceOptions) {
  const { store, redis, prefix, catalog } = options;
  const now = options.now ?? Date.now;
  const factor = options.maxLifetimeFactor ?? 2;
  const log = options.log ?? (() => {});
  const hintsKey = (id: string) => `${prefix}hints:${id}`;
  const keyOf = (learner: string) => `${prefix}learner-key:${learner}`;
  const failuresKey = `${prefix}failures`;

  function scenarioOf(id: string): Scenario {
    const scenario = catalog.get(id);
    if (scenario === undefined) {
      throw new NotFoundError(`no scenario ${id}`, { hint: 'GET /v1/scenarios lists them' });
    }
    return scenario;
  }

  const generatedKey = (id: string) => `${prefix}generated-key:${id}`;

  /** What a view reads from Redis beside the record, when the caller already knows it (a claim just made). */
  interface Known {
    revealed: number;
    generated: boolean;
  }

  async function connectionOf(env: Environment, known?: Known): Promise<ConnectionBody | null> {
    if (env.state !== 'claimed' || env.access === undefined) return null;
    const { host, port, user, knownHosts } = env.access;
    const generated = known?.generated ?? (await redis.exists(generatedKey(env.id))) === 1;
    return { host, port, user, knownHosts, command: sshCommand(env.id, { host, port, user }, generated) };
  }

  async function view(env: Environment, known?: Known): Promise<LabBody> {
    const scenario = env.scenario === undefined ? undefined : catalog.get(env.scenario);
    const revealed = known?.revealed ?? Number((await redis.get(hintsKey(env.id))) ?? 0);
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    return {
      id: env.id,
      pool: env.pool,
      state: env.state,
      learner: env.learner ?? null,
      scenario: env.scenario ?? null,
      claimedAt: iso(env.claimedAt),
      expiresAt: iso(env.expiresAt),
      secondsLeft:
        env.state === 'claimed' && env.expiresAt !== undefined
          ? Math.max(0, Math.round((env.expiresAt - now()) / 1000))
          : null,
      hintsRevealed: revealed,
      hintsTotal: scenario?.hints.length ?? 0,
      attention: env.attention?.reason ?? null,
      connection: await connectionOf(env, known),
      // An extension withdraws a warning at once (the idle reaper's next pass clears the record).
      idle:
        env.state === 'claimed' && env.idle !== undefined && (env.extendedAt ?? 0) < env.idle.warnedAt
          ? { warnedAt: iso(env.idle.warnedAt) ?? '', releaseAt: iso(env.idle.releaseAt) ?? '' }
          : null,
      ended:
        env.ended === undefined
          ? null
          : {
              reason: env.ended.reason,
              at: iso(env.ended.at) ?? '',
              message: endedMessage(env.ended.reason, options.pools.find((p) => p.name === env.pool)?.idleMinutes),
            },
    };
  }

  async function claimed(id: string): Promise<{ env: Environment; scenario: Scenario }> {
    const env = await store.get(id);
    if (env.state !== 'claimed' || env.scenario === undefined) {
      throw new ConflictError(`lab ${id} is ${env.state}, not claimed`, { hint: 'claim a new lab' });
    }
    return { env, scenario: scenarioOf(env.scenario) };
  }

  async function recordFailure(failure: FailureRecord): Promise<void> {
    await redis
      .multi()
      .lpush(failuresKey, JSON.stringify(failure))
      .ltrim(failuresKey, 0, FAILURES_KEPT - 1)
      .exec();
  }

  async function release(id: string): Promise<LabBody> {
    const env = await options.access.release(id);
    // The reaper may have released it first: queuing its teardown again is harmless (one job per lab).
    if (env.state === 'releasing') await options.teardown(id);
    return await view(await store.get(id));
  }

  return {
    view,

    /** The lab a learner holds, by id. Throws not_found for an unknown id. */
    async get(id: string): Promise<Environment> {
      return await store.get(id);
    },

    /**
     * Claims a lab of the scenario's pool for a learner, installs their key (registered, given, or
     * generated) and applies the scenario's break before answering.
     */
    async claim(input: { learner: string; scenario: string; publicKey?: string }): Promise<ClaimResultBody> {
      const scenario = scenarioOf(input.scenario);
      // Independent reads, so one round trip's wait rather than two.
      const [pool, registered] = await Promise.all([
        poolFor(scenario, options.pools, store),
        redis.get(keyOf(input.learner)),
      ]);
      const publicKey = input.publicKey ?? registered ?? undefined;
      try {
        const { environment, connection } = await options.access.claim({
          pool: pool.name,
          learner: input.learner,
          scenario: scenario.id,
          ttlMs: scenario.timeLimitMinutes * 60_000,
          ...(publicKey === undefined ? {} : { publicKey }),
          // The claim's key install rides in the break's SSH command: one command per node.
          prepare: async (lab) => {
            await options.runner.applyBreak(scenario, lab, { before: lab.setup });
          },
          prepareRunsSetup: true,
        });
        const fresh = redis.multi().del(hintsKey(environment.id));
        if (connection.privateKey !== undefined) {
          // Remembered (the fact, never the key) so later views name the key file in the command.
          fresh.set(generatedKey(environment.id), '1', 'PX', scenario.timeLimitMinutes * 60_000 * factor);
        }
        await fresh.exec();
        // A new claim has no hints revealed, and we know whether its key was generated.
        const lab = await view(environment, { revealed: 0, generated: connection.privateKey !== undefined });
        const { host, port, user, knownHosts, privateKey } = connection;
        return {
          lab,
          connection: {
            host,
            port,
            user,
            knownHosts,
            command: sshCommand(environment.id, { host, port, user }, privateKey !== undefined),
            ...(privateKey === undefined ? {} : { privateKey }),
          },
        };
      } catch (error) {
        if (error instanceof ClaimPreparationError) {
          const lab = /lab (\S+) could not/.exec(error.message)?.[1] ?? '?';
          log(`claim of ${scenario.id} by ${input.learner} failed: ${error.message}`);
          await recordFailure({
            at: now(),
            lab,
            pool: pool.name,
            learner: input.learner,
            scenario: scenario.id,
            reason: error.message,
          });
          await options.teardown(lab).catch(() => undefined);
        }
        if (error instanceof PoolExhaustedError) {
          log(`pool ${pool.name} empty: ${input.learner} waits`);
          // Wake the pool worker now instead of at its next cron tick; it adds a lab per waiter.
          await requestTopUp(redis, pool.name, prefix.replace(/:$/, '')).catch(() => undefined);
        }
        throw error;
      }
    },

    async current(learner: string): Promise<Environment> {
      const env = await store.heldBy(learner);
      if (env === undefined) throw new NotFoundError(`learner ${learner} holds no lab`, { hint: 'claim one' });
      return env;
    },

    async check(id: string): Promise<CheckResultBody> {
      const { env, scenario } = await claimed(id);
      try {
        const result = await options.runner.check(scenario, await options.access.targets(env));
        return { solved: result.solved, feedback: result.feedback, checkedAt: new Date(now()).toISOString() };
      } catch (error) {
        // The scenario runner says so when the lab itself is in trouble (connection dropped, host
        // key changed): flag it for an operator, and tell the learner it is not their doing.
        if ((error as { needsAttention?: boolean }).needsAttention === true) {
          const reason = (error as Error).message;
          await store.flagAttention(id, reason);
          await recordFailure({
            at: now(),
            lab: id,
            pool: env.pool,
            ...(env.learner === undefined ? {} : { learner: env.learner }),
            scenario: scenario.id,
            reason: `needs attention: ${reason}`,
          });
          log(`lab ${id} needs attention: ${reason}`);
        }
        throw error;
      }
    },

    async nextHint(id: string): Promise<HintBody> {
      const { env, scenario } = await claimed(id);
      const total = scenario.hints.length;
      const lifetime = Math.max(60_000, (env.claimedAt ?? now()) + scenario.timeLimitMinutes * 60_000 * factor - now());
      const index = Number(await redis.eval(NEXT_HINT, 1, hintsKey(id), total, lifetime));
      if (index < 0) {
        throw new ConflictError(`all ${total} hints of lab ${id} are revealed`, {
          hint: 'run a check to see what is still wrong',
        });
      }
      return { index, total, remaining: total - index, hint: scenario.hints[index - 1] ?? '' };
    },

    async extend(id: string, minutes: number): Promise<LabBody> {
      const { scenario } = await claimed(id);
      await store.extend(id, minutes * 60_000, scenario.timeLimitMinutes * 60_000 * factor);
      return await view(await store.get(id));
    },

    release,

    /** Registers (replaces) a learner's public key; later claims install it. */
    async registerKey(learner: string, publicKey: string): Promise<{ learner: string; fingerprint: string }> {
      const key = parsePublicKey(publicKey);
      await redis.set(keyOf(learner), key.line);
      return { learner, fingerprint: key.fingerprint };
    },

    async list(filter: { state?: Environment['state'] } = {}): Promise<Environment[]> {
      const all = await store.list();
      return all
        .filter((env) => (filter.state === undefined ? env.state !== 'deleted' : env.state === filter.state))
        .sort((a, b) => a.createdAt - b.createdAt);
    },

    async failures(): Promise<FailureRecord[]> {
      return (await redis.lrange(failuresKey, 0, FAILURES_KEPT - 1)).map((line) => JSON.parse(line) as FailureRecord);
    },
  };
}

export type LabService = ReturnType<typeof createLabService>;

/** How a lab ended, in words for its learner (the API, Slack and the dashboard say it alike). */
export function endedMessage(reason: LabEndReason, idleMinutes?: number): string {
  switch (reason) {
    case 'released':
      return 'released';
    case 'expired':
      return 'released when its time ran out';
    case 'idle':
      return `released after ${idleMinutes === undefined ? 'a while' : `${idleMinutes} minutes`} without activity`;
    case 'lost':
      return 'lost (its machines went away) and released';
    default:
      return assertNever(reason, 'end reason');
  }
}

/**
 * The command a learner pastes, naming the files labctl writes: `breakfix-<lab>.key` when the key
 * pair was generated (else the learner's own key is used), `breakfix-<lab>.known_hosts` always.
 */
export function sshCommand(
  labId: string,
  to: { host: string; port: number; user: string },
  generated: boolean,
): string {
  const identity = generated ? `-i breakfix-${labId}.key -o IdentitiesOnly=yes ` : '';
  const port = to.port === 22 ? '' : `-p ${to.port} `;
  return `ssh ${identity}-o StrictHostKeyChecking=yes -o UserKnownHostsFile=breakfix-${labId}.known_hosts ${port}${to.user}@${to.host}`;
}
