import { randomBytes, randomUUID } from 'node:crypto';
import { assertNever } from '@breakfix/core';
import type { Kube } from '@breakfix/kube';
import type { PoolConfig } from '@breakfix/manifests';
import { DEFAULT_INSTANCE, isOwnLab, LABELS, labFootprint, parseLabSpec } from '@breakfix/manifests';
import {
  checkLabVms,
  closeSsh,
  countByPool,
  type createProvisioner,
  type Environment,
  type EnvironmentStore,
  emptyCounts,
  type IdleReaper,
  type IdleReport,
  type LostLab,
  type NodePortAllocator,
  type ReconcileReport as NodePortReconcileReport,
  reconcileNodePorts,
  type StateCounts,
  wakeChannel,
} from '@breakfix/pool';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { labsThatFit, readFreeCapacity } from './capacity.js';
import { mapBounded } from './map-bounded.js';
import { createPoolMetrics, type PoolMetrics } from './metrics.js';
import { planTopUp, type TopUpLimit } from './plan.js';

/**
 * Records whose Redis (and queue) round trips run at once in a tick or reconcile: enough to hide
 * each round trip's latency, few enough not to flood one connection. Each record's own steps keep
 * their order.
 */
const RECORDS_AT_ONCE = 16;

/** Its `instance` names the install whose labs the reconcilers own; none means the default instance. */
type Provisioner = Pick<ReturnType<typeof createProvisioner>, 'provision' | 'teardown' | 'namespaceFor'> &
  Partial<Pick<ReturnType<typeof createProvisioner>, 'instance'>>;

export interface PoolWorkerOptions {
  /** BullMQ needs its own connections (it blocks on them); this factory makes them. */
  connection: () => Redis;
  /** For the tick lock. */
  redis: Redis;
  store: EnvironmentStore;
  provisioner: Provisioner;
  /**
   * For the reconciler: Kubernetes is the truth of what exists. It deletes, adopts or frees only
   * objects of the provisioner's instance (platform config `instance`, docs/adr/0029).
   */
  kube: Kube;
  /**
   * Whether the reconcilers also own lab objects with no instance label (made before it existed).
   * Default: only when the instance is the default one (`breakfix`), so an upgraded install that
   * never named itself keeps cleaning its old labs.
   */
  adoptUnlabelledLabs?: boolean;
  pools: readonly PoolConfig[];
  /** Queue and lock prefix. Default `breakfix`. */
  prefix?: string;
  /** How long one tick may hold the leader lock. Default 30 s. */
  tickLockMs?: number;
  now?: () => number;
  /** Prometheus metrics; a private registry by default. */
  metrics?: PoolMetrics;
  /**
   * Idle reaping for pools with `idleMinutes` (packages/pool idle-reaper.ts): each tick warns and
   * releases idle claimed labs; their teardown is queued like an expired lab's. Off without it.
   */
  idle?: Pick<IdleReaper, 'reap'>;
  /** NodePort leases: a teardown frees the lab's port (and deletes its SSH Service) first. */
  allocator?: NodePortAllocator;
  /**
   * The capacity guard: never provision past what the host cluster can hold (allocatable of the
   * nodes this selector picks minus requests). Off by default (the sandbox has no nodes); the
   * entry point turns it on with KubeVirt's `kubevirt.io/schedulable=true`.
   */
  capacity?: { nodeSelector: string };
  /** After a failed provision the pool pauses base * 2^(failures-1), at most max. Default 30 s / 10 min. */
  backoff?: { baseMs: number; maxMs: number };
  /** Queued learners who have not asked again for this long leave the queue. Default 2 minutes. */
  waitingTtlMs?: number;
  /**
   * A connection to subscribe on: a claim that finds its pool empty publishes on the wake channel
   * (`requestTopUp`), and the worker ticks at once instead of at its next cron time.
   */
  subscriber?: Redis;
  /**
   * BullMQ lock of a running job, and how often stalled jobs are looked for: a job whose worker
   * died is picked up by another within about twice this. Default 30 s.
   */
  lockDurationMs?: number;
  log?: (message: string) => void;
}

interface ProvisionJob {
  id: string;
  pool: string;
}

export interface ReconcileResult {
  /** Lab namespaces no record holds, deleted. */
  orphanNamespaces: string[];
  /** Records whose namespace is gone, closed. */
  orphanRecords: string[];
  /** Provisioning records whose job was lost, queued again. */
  resumed: string[];
  /** NodePort leases compared with the Services that exist (only with an allocator). */
  nodePorts?: NodePortReconcileReport;
}

export interface TickResult {
  /** False when another replica held the tick lock: it did this tick. */
  ran: boolean;
  enqueued: { pool: string; id: string }[];
  /** Claimed labs past their TTL, released and queued for teardown. */
  expired: string[];
  /** Pools that got fewer labs than their target, and why. */
  held?: { pool: string; target: number; limitedBy: TopUpLimit }[];
  /** Labs whose VMs are gone, ended or replaced: ready ones failed and torn down, claimed ones flagged. */
  lost?: LostLab[];
  /** What idle reaping did (only with the `idle` option): warned, reset, released, unreachable labs. */
  idle?: IdleReport;
}

/**
 * The pool worker: a `provision` queue whose jobs boot one environment each (jobId = environment
 * id, so a job enqueued twice runs once), a `teardown` queue, and `tick()`, which tops every pool
 * up to `min` ready labs within `max` and `maxConcurrentProvisions`. Ticks never overlap and only
 * one replica runs each: a Redis lock (SET NX PX) guards them.
 */
export function createPoolWorker(options: PoolWorkerOptions) {
  const prefix = options.prefix ?? 'breakfix';
  const log = options.log ?? (() => {});
  // Finished jobs are kept a while (for the reconciler and for operators), then dropped.
  const defaultJobOptions = { removeOnComplete: 1000, removeOnFail: 1000 };
  const provisionQueue = new Queue<ProvisionJob>('provision', {
    connection: options.connection(),
    prefix,
    defaultJobOptions,
  });
  const teardownQueue = new Queue<{ id: string }>('teardown', {
    connection: options.connection(),
    prefix,
    defaultJobOptions,
  });
  const enqueueProvision = (id: string, pool: string) => provisionQueue.add('provision', { id, pool }, { jobId: id });
  /** Queues the teardown of a released or failed environment. Idempotent per environment. */
  const release = async (id: string) => {
    await teardownQueue.add('teardown', { id }, { jobId: `teardown-${id}` });
  };
  const concurrency = options.pools.reduce((sum, pool) => sum + pool.maxConcurrentProvisions, 0);
  const pools = new Map(options.pools.map((pool) => [pool.name, pool]));
  const metrics = options.metrics ?? createPoolMetrics();
  const owner = {
    instance: options.provisioner.instance ?? DEFAULT_INSTANCE,
    ...(options.adoptUnlabelledLabs === undefined ? {} : { adoptUnlabelled: options.adoptUnlabelledLabs }),
  };

  const provisionWorker = new Worker<ProvisionJob>(
    'provision',
    async (job) => {
      const pool = pools.get(job.data.pool);
      if (pool === undefined) throw new Error(`job for unknown pool ${job.data.pool}`);
      const spec = parseLabSpec({
        labId: job.data.id,
        kubernetesVersion: pool.kubernetesVersion,
        workers: pool.workers,
        size: pool.size,
        cni: pool.cni,
      });
      const started = Date.now();
      try {
        const outcome = await options.provisioner.provision({ id: job.data.id, pool: pool.name, spec });
        if (outcome !== 'skipped') metrics.recordProvision(pool.name, outcome, (Date.now() - started) / 1000);
        if (outcome === 'failed') {
          metrics.recordFailure(pool.name, 'deadline_or_bootstrap');
          await recordFailure(pool.name);
        }
        if (outcome === 'ready') await options.redis.del(backoffKey(pool.name));
        return outcome;
      } catch (error) {
        metrics.recordFailure(pool.name, (error as { code?: string }).code ?? 'error');
        await recordFailure(pool.name);
        throw error;
      }
    },
    {
      connection: options.connection(),
      prefix,
      concurrency,
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.lockDurationMs ?? 30_000,
    },
  );
  const teardownWorker = new Worker<{ id: string }>(
    'teardown',
    async (job) => {
      const allocator = options.allocator;
      if (allocator !== undefined) {
        // The reaper's labs come here with their SSH still open: close it before the slow part.
        const env = await options.store.get(job.data.id);
        await closeSsh({ kube: options.kube, allocator }, { labId: env.id, namespace: env.namespace });
      }
      await options.provisioner.teardown(job.data.id);
    },
    {
      connection: options.connection(),
      prefix,
      concurrency: 4,
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.lockDurationMs ?? 30_000,
    },
  );
  for (const worker of [provisionWorker, teardownWorker]) {
    worker.on('failed', (job, error) => log(`${worker.name} job ${job?.id} failed: ${error.message}`));
  }

  const backoffKey = (pool: string) => `${prefix}:pool:${pool}:backoff`;
  const backoff = options.backoff ?? { baseMs: 30_000, maxMs: 600_000 };

  /** Counts a failed provision and pauses the pool for base * 2^(n-1), at most max. */
  async function recordFailure(pool: string): Promise<void> {
    const failures = await options.redis.hincrby(backoffKey(pool), 'failures', 1);
    const pause = Math.min(backoff.baseMs * 2 ** (failures - 1), backoff.maxMs);
    await options.redis.hset(backoffKey(pool), 'until', (options.now ?? Date.now)() + pause);
    log(`pool ${pool}: ${failures} failed provision(s) in a row; pausing ${Math.round(pause / 1000)} s`);
  }

  async function backoffUntil(pool: string): Promise<number | undefined> {
    const until = await options.redis.hget(backoffKey(pool), 'until');
    return until === null ? undefined : Number(until);
  }

  async function topUp(
    pool: PoolConfig,
    counts: StateCounts,
    capacityLabs: number,
  ): Promise<{ enqueued: { pool: string; id: string }[]; target: number; limitedBy?: TopUpLimit }> {
    const now = (options.now ?? Date.now)();
    await options.store.pruneWaiting(pool.name, options.waitingTtlMs ?? 120_000);
    const until = await backoffUntil(pool.name);
    const plan = planTopUp({
      pool,
      counts,
      waiting: await options.store.waitingCount(pool.name),
      now,
      capacityLabs,
      ...(until === undefined ? {} : { backoffUntil: until }),
    });
    const enqueued: { pool: string; id: string }[] = [];
    for (let i = 0; i < plan.provision; i++) {
      const id = `e${randomBytes(5).toString('hex')}`;
      // Recorded before the job exists, so the next tick counts it even if the job waits.
      await options.store.create({ id, pool: pool.name, namespace: options.provisioner.namespaceFor(id) });
      await enqueueProvision(id, pool.name);
      enqueued.push({ pool: pool.name, id });
    }
    counts.provisioning += enqueued.length;
    await options.store.setPoolPlan(pool.name, {
      target: plan.target,
      at: now,
      ...(plan.limitedBy === undefined ? {} : { limitedBy: plan.limitedBy }),
      ...(until === undefined || until <= now ? {} : { backoffUntil: until }),
    });
    return { enqueued, target: plan.target, ...(plan.limitedBy === undefined ? {} : { limitedBy: plan.limitedBy }) };
  }

  /** Labs left in `releasing` (a release whose teardown job was lost, or never queued) go to teardown. */
  async function sweepReleasing(environments: Environment[]): Promise<void> {
    const releasing = environments.filter((e) => e.state === 'releasing');
    await mapBounded(releasing, RECORDS_AT_ONCE, async (env) => {
      const job = await teardownQueue.getJob(`teardown-${env.id}`);
      const state = job === undefined ? 'missing' : await job.getState();
      if (state === 'completed' || state === 'failed') await job?.remove().catch(() => undefined);
      if (state === 'missing' || state === 'completed' || state === 'failed') await release(env.id);
    });
  }

  /**
   * The reaper: claimed labs past their TTL are released and torn down. The list it reads from is
   * already stale when it acts: the store decides each release atomically on the lab's current
   * expiry and state, so a lab extended meanwhile stays, and one released meanwhile (by its learner
   * or another replica) is simply done. The list is corrected in place for the rest of the tick.
   */
  async function reapExpired(environments: Environment[]): Promise<string[]> {
    const now = (options.now ?? Date.now)();
    const due = environments.filter((env) => env.state === 'claimed' && (env.expiresAt ?? Infinity) <= now);
    const released = await mapBounded(due, RECORDS_AT_ONCE, async (env) => {
      const result = await options.store.expire(env.id, now);
      switch (result.outcome) {
        case 'expired':
          env.state = 'releasing';
          await release(env.id);
          return true;
        case 'extended':
          env.expiresAt = result.expiresAt;
          return false;
        case 'not-claimed':
          if (result.state !== undefined) env.state = result.state;
          return false;
        default:
          return assertNever(result, 'expire outcome');
      }
    });
    return due.filter((_, index) => released[index]).map((env) => env.id);
  }

  /** Idle reaping (when configured): released labs go to teardown like expired ones. */
  async function reapIdle(environments: Environment[]): Promise<IdleReport | undefined> {
    if (options.idle === undefined) return undefined;
    const report = await options.idle.reap(environments);
    for (const id of report.released) await release(id);
    if (report.warned.length > 0) log(`tick: idle warning for ${report.warned.join(', ')}`);
    if (report.released.length > 0) log(`tick: released idle ${report.released.join(', ')}`);
    return report;
  }

  /**
   * Labs whose VMI is gone, not Running or replaced by a fresh boot (runStrategy Once never
   * restarts one that ended; a deleted one comes back from a fresh disk): ready ones are failed
   * and torn down, and counted as failed so this tick already replaces them; claimed ones are
   * flagged for attention. A cluster that cannot be read fails nothing.
   */
  async function checkVms(environments: Environment[]): Promise<LostLab[]> {
    const lost = await checkLabVms(options.kube, options.store, environments, log).catch((error: unknown) => {
      log(`checking lab VMs failed: ${(error as Error).message}`);
      return [];
    });
    for (const lab of lost) {
      const env = environments.find((e) => e.id === lab.id);
      if (lab.outcome !== 'failed' || env === undefined) continue;
      env.state = 'failed';
      metrics.recordFailure(env.pool, 'vm_lost');
      await release(lab.id);
    }
    return lost;
  }

  /**
   * Claimed labs keep their NodePort for as long as they are claimed: each tick renews their
   * leases, so a lease outlives a dead worker by its lease time only, not a lab's by its TTL.
   */
  async function renewLeases(environments: readonly Environment[]): Promise<void> {
    const allocator = options.allocator;
    if (allocator === undefined) return;
    await Promise.all(environments.filter((env) => env.state === 'claimed').map((env) => allocator.renew(env.id)));
  }

  /**
   * Compares Redis with the cluster: deletes lab namespaces of this instance nobody holds, closes
   * records whose namespace is gone, and queues again provisions whose job vanished (jobId =
   * environment id, so a job that still exists is not doubled). Another instance's labs are
   * never deleted: its records live in another Redis, so "no record here" says nothing about them.
   */
  async function reconcile(graceMs = 60_000): Promise<ReconcileResult> {
    const now = (options.now ?? Date.now)();
    const result: ReconcileResult = { orphanNamespaces: [], orphanRecords: [], resumed: [] };
    const environments = await options.store.list();
    const live = environments.filter((env) => env.state !== 'deleted');
    const namespaces = await options.kube.list('v1', 'Namespace', {
      labelSelector: `${LABELS.managedBy}=breakfix,${LABELS.lab}`,
    });
    // Whether a record's namespace exists asks of every lab namespace, whoever owns it: a record
    // is closed only when its namespace is really gone.
    const existing = new Set(
      namespaces.filter((ns) => ns.metadata.deletionTimestamp === undefined).map((ns) => ns.metadata.name),
    );
    const held = new Set(live.map((env) => env.namespace));

    for (const namespace of namespaces.filter((ns) => isOwnLab(ns.metadata.labels, owner))) {
      const name = namespace.metadata.name;
      if (held.has(name) || namespace.metadata.deletionTimestamp !== undefined) continue;
      if (now - Date.parse(namespace.metadata.creationTimestamp ?? '') < graceMs) continue;
      await options.kube.delete({ apiVersion: 'v1', kind: 'Namespace', name });
      result.orphanNamespaces.push(name);
    }
    const outcomes = await mapBounded(live, RECORDS_AT_ONCE, async (env) => {
      if (now - env.updatedAt < graceMs) return undefined;
      if (!existing.has(env.namespace) && env.state !== 'provisioning') {
        if (env.state === 'claimed') await options.store.apply(env.id, 'release', 'lost');
        // Its Service went with the namespace; its port lease must not wait for expiry.
        await options.allocator?.release(env.id);
        await options.store.apply(env.id, 'delete');
        return 'orphan' as const;
      }
      if (env.state === 'provisioning') {
        const job = await provisionQueue.getJob(env.id);
        const state = job === undefined ? 'missing' : await job.getState();
        if (state === 'missing' || state === 'failed' || state === 'completed') {
          await job?.remove().catch(() => undefined);
          await enqueueProvision(env.id, env.pool);
          return 'resumed' as const;
        }
      }
      return undefined;
    });
    live.forEach((env, index) => {
      if (outcomes[index] === 'orphan') result.orphanRecords.push(env.id);
      if (outcomes[index] === 'resumed') result.resumed.push(env.id);
    });
    if (options.allocator !== undefined) {
      result.nodePorts = await reconcileNodePorts({
        kube: options.kube,
        allocator: options.allocator,
        now: options.now,
        owner,
      });
    }
    const ports = result.nodePorts;
    const portChanges = ports === undefined ? 0 : ports.adopted.length + ports.freed.length;
    if (result.orphanNamespaces.length + result.orphanRecords.length + result.resumed.length + portChanges > 0) {
      log(`reconcile: ${JSON.stringify(result)}`);
    }
    return result;
  }

  const worker = {
    metrics,
    reconcile,

    async tick(): Promise<TickResult> {
      const lockKey = `${prefix}:tick-lock`;
      const token = randomUUID();
      const acquired = await options.redis.set(lockKey, token, 'PX', options.tickLockMs ?? 30_000, 'NX');
      if (acquired !== 'OK') return { ran: false, enqueued: [], expired: [], held: [] };
      try {
        // One read of the records serves the reaper, the top-up and the metrics.
        const environments = await options.store.list();
        const expired = await reapExpired(environments);
        const idle = await reapIdle(environments);
        await renewLeases(environments);
        const lost = await checkVms(environments);
        await sweepReleasing(environments);
        const counts = countByPool(environments);
        const free =
          options.capacity === undefined
            ? undefined
            : await readFreeCapacity(options.kube, environments, pools, options.capacity.nodeSelector);
        const enqueued = [];
        const held: { pool: string; target: number; limitedBy: TopUpLimit }[] = [];
        for (const pool of options.pools) {
          if (!counts.has(pool.name)) counts.set(pool.name, emptyCounts());
          const capacityLabs = free === undefined ? Number.POSITIVE_INFINITY : labsThatFit(free, pool);
          const result = await topUp(pool, counts.get(pool.name) ?? emptyCounts(), capacityLabs);
          enqueued.push(...result.enqueued);
          if (result.limitedBy !== undefined)
            held.push({ pool: pool.name, target: result.target, limitedBy: result.limitedBy });
          if (free !== undefined) {
            // What this pool just took is no longer free for the next one.
            const footprint = labFootprint({ workers: pool.workers, size: pool.size });
            free.memoryMiB -= footprint.memoryMiB * result.enqueued.length;
            free.cpuMilli -= footprint.cpuMilli * result.enqueued.length;
          }
        }
        for (const [pool, byState] of counts) metrics.recordCounts(pool, byState);
        if (enqueued.length > 0) log(`tick: provisioning ${enqueued.map((e) => `${e.id} (${e.pool})`).join(', ')}`);
        if (expired.length > 0) log(`tick: expired ${expired.join(', ')}`);
        for (const h of held.filter((h) => h.limitedBy === 'capacity' || h.limitedBy === 'backoff'))
          log(`tick: pool ${h.pool} held below its target ${h.target} by ${h.limitedBy}`);
        return {
          ran: true,
          enqueued,
          expired,
          held,
          ...(lost.length > 0 ? { lost } : {}),
          ...(idle === undefined ? {} : { idle }),
        };
      } finally {
        // Release only our own lock (a slow tick may have outlived it and lost it to another).
        await options.redis.eval(
          "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
          1,
          lockKey,
          token,
        );
      }
    },

    release,

    /** Stops taking jobs, lets running ones finish (no job lost), closes the queues. */
    async close(): Promise<void> {
      await options.subscriber?.unsubscribe(wakeChannel(prefix)).catch(() => undefined);
      await Promise.all([provisionWorker.close(), teardownWorker.close()]);
      await Promise.all([provisionQueue.close(), teardownQueue.close()]);
    },
  };

  if (options.subscriber !== undefined) {
    const subscriber = options.subscriber;
    subscriber
      .subscribe(wakeChannel(prefix))
      .catch((error: unknown) => log(`wake subscription failed: ${String(error)}`));
    subscriber.on('message', (channel, pool) => {
      if (channel !== wakeChannel(prefix)) return;
      log(`woken for pool ${pool}`);
      worker.tick().catch((error: unknown) => log(`tick on wake failed: ${(error as Error).message}`));
    });
  }
  return worker;
}
