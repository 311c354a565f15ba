import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Kube } from '@breakfix/kube';
import { type Environment, EnvironmentStore } from '@breakfix/pool';
import { startSandbox } from '@breakfix/sandbox';
import { Redis } from 'ioredis';
import type { BenchSettings } from '../bench.js';
import { type Figure, latency, value } from './stats.js';

/**
 * Record counts measured, each on a fresh sandbox (a worker must not see another run's
 * namespaces); BREAKFIX_BENCH_SCALE_SIZES=1000 picks some.
 */
const SIZES = (process.env.BREAKFIX_BENCH_SCALE_SIZES ?? '1000,10000').split(',').map(Number);
/** Runs of each operation: the first (cold), then steady ones. */
const RUNS = 3;
/** At most this many store calls or apiserver writes at once while seeding. */
const SEED_CONCURRENCY = 32;
const POOLS = {
  pools: [
    { name: 'k136', kubernetesVersion: '1.36', workers: 0, min: 5, max: 20_000 },
    { name: 'k136-w1', kubernetesVersion: '1.36', workers: 1, min: 5, max: 20_000 },
  ],
};
const MiB = 1048576;

/**
 * The mix of a long-running platform, per 100 records: most have ended (`deleted` records are
 * never removed from Redis), the live ones mostly claimed with time left or ready.
 */
const MIX = {
  provisioning: 1,
  failed: 1,
  ready: 8,
  claimed: 20,
  expired: 3,
  releasing: 5,
  deleted: 62,
} as const;
type Role = keyof typeof MIX;

/**
 * The pool worker's cost at scale: for each size in SIZES, Redis is seeded through the store's own
 * API with MIX and the apiserver with a labelled namespace per live record; then the worker runs
 * in its own process (scale-worker.ts) and is asked for reconcile and tick RUNS times each. Every
 * phase reports its duration and the worker's VmRSS / VmHWM from /proc, against its RSS before
 * any record was read.
 */
export async function* benchScale(_settings: BenchSettings): AsyncGenerator<Figure> {
  for (const size of SIZES) yield* benchSize(size);
}

async function* benchSize(size: number): AsyncGenerator<Figure> {
  const name = `pool.scale.${size}`;
  // A starved nice-19 apiserver on a loaded machine can take minutes to answer readyz.
  const sandbox = await startSandbox({ simulator: false, startTimeoutMs: 300_000 });
  const redis = new Redis(sandbox.redisUrl, { maxRetriesPerRequest: null });
  let worker: WorkerProcess | undefined;
  try {
    const prefix = `scale${size}`;
    // Started first so that loading its modules overlaps the seeding; it reads no record until asked.
    worker = startWorker({ redisUrl: sandbox.redisUrl, kubeconfig: sandbox.kubeconfig, prefix, pools: POOLS });
    let started = performance.now();
    const live = await seedRecords(new EnvironmentStore({ redis, prefix: `${prefix}:`, now: () => seededAt }), size);
    yield value(`${name}.seed_records (store API, ${SEED_CONCURRENCY} at once)`, performance.now() - started, 'ms', {
      n: size,
    });
    started = performance.now();
    await boundedAll(live, SEED_CONCURRENCY, (env) => createNamespace(sandbox.kube, env));
    yield value(
      `${name}.seed_namespaces (${live.length} live labs, ${SEED_CONCURRENCY} at once)`,
      performance.now() - started,
      'ms',
      { n: live.length },
    );
    yield value(`${name}.redis_used_memory`, await redisUsedMemory(redis), 'MiB');

    // Loading the worker's modules takes minutes of a starved nice-19 process on a busy machine.
    const before = (await worker.send('memory', 600_000)).memory;
    const baseline = worker.status();
    yield value(`${name}.worker_rss_baseline (built, no record read)`, baseline.rss / MiB, 'MiB');
    yield value(`${name}.worker_heap_used_baseline`, before.heapUsed / MiB, 'MiB');

    for (const op of ['reconcile', 'tick'] as const) {
      const durations: number[] = [];
      let failures = 0;
      let summary = '';
      for (let run = 0; run < RUNS; run++) {
        const answer = await worker.send(op, 600_000);
        durations.push(answer.ms ?? 0);
        if (answer.error !== undefined) {
          failures++;
          console.error(`${name}.${op}: ${answer.error}`);
        }
        summary += `${run === 0 ? '' : '; '}${JSON.stringify(answer.summary)}`;
        yield value(`${name}.${op}.${run === 0 ? 'first' : `steady_${run}`}`, answer.ms ?? 0, 'ms', {
          ...(answer.error === undefined ? {} : { failures: 1 }),
        });
      }
      yield latency(`${name}.${op} (${RUNS} runs, first included: ${summary})`, durations, { failures });
      const memory = (await worker.send('memory', 60_000)).memory;
      const status = worker.status();
      yield value(`${name}.${op}.worker_rss_after`, status.rss / MiB, 'MiB');
      yield value(`${name}.${op}.worker_heap_used_after`, memory.heapUsed / MiB, 'MiB');
      yield value(`${name}.${op}.worker_external_after`, memory.external / MiB, 'MiB');
    }
    const status = worker.status();
    yield value(`${name}.worker_rss_peak (VmHWM, whole run)`, status.hwm / MiB, 'MiB');
    yield value(`${name}.worker_rss_growth (peak minus baseline)`, (status.hwm - baseline.rss) / MiB, 'MiB');
    await worker.send('close', 60_000);
  } finally {
    worker?.kill();
    redis.disconnect();
    await sandbox.stop();
  }
}

/** Two hours ago: every record is past the reconciler's grace, claims are timed from here. */
const seededAt = Date.now() - 2 * 3_600_000;

/** Seeds `size` records in MIX through the store's API; returns those that are not deleted. */
async function seedRecords(store: EnvironmentStore, size: number): Promise<Environment[]> {
  const roles: Role[] = Object.entries(MIX).flatMap(([role, count]) => Array<Role>(count).fill(role as Role));
  const planned = Array.from({ length: size }, (_, i) => {
    const pool = POOLS.pools[i % 2]?.name ?? '';
    return { id: `s${i}`, pool, role: roles[Math.floor(i / 2) % roles.length] as Role };
  });
  const hostKeys = {
    cp: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${'x'.repeat(43)}`,
    w1: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${'y'.repeat(43)}`,
  };
  await boundedAll(planned, SEED_CONCURRENCY, async (lab) => {
    await store.create({ id: lab.id, pool: lab.pool, namespace: `lab-${lab.id}` });
    if (lab.role === 'provisioning') return;
    if (lab.role === 'failed') {
      await store.apply(lab.id, 'fail');
      return;
    }
    await store.apply(lab.id, 'provisioned');
    await store.setHostKeys(lab.id, hostKeys);
  });
  // A claim takes a pool's oldest ready lab, whichever it is: claim as many as the roles ask for,
  // then give each claimed lab the rest of its life.
  for (const pool of POOLS.pools.map((p) => p.name)) {
    const ended = planned.filter((lab) => lab.pool === pool && (lab.role === 'releasing' || lab.role === 'deleted'));
    const jobs = [
      ...planned.filter((lab) => lab.pool === pool && lab.role === 'claimed').map(() => 'claimed' as const),
      ...planned.filter((lab) => lab.pool === pool && lab.role === 'expired').map(() => 'expired' as const),
      ...ended.map((lab) => lab.role as 'releasing' | 'deleted'),
    ];
    await boundedAll(jobs, SEED_CONCURRENCY, async (role, index) => {
      const ttlMs = role === 'expired' ? 3_600_000 : 4 * 3_600_000;
      const env = await store.claim({
        pool,
        learner: `learner-${pool}-${index}`,
        scenario: 'sim-kubeconfig-drift',
        ttlMs,
      });
      await store.setAccess(env.id, {
        host: '203.0.113.10',
        port: 30000 + (index % 2000),
        user: 'learner',
        knownHosts: `cp-api ${hostKeys.cp}`,
        nodePort: 30000 + (index % 2000),
        learnerKeyFingerprint: `SHA256:${'f'.repeat(43)}`,
        terminalKey: 'sealed:'.padEnd(200, 'k'),
      });
      if (role === 'claimed' || role === 'expired') return;
      await store.apply(env.id, 'release');
      if (role === 'deleted') await store.apply(env.id, 'delete');
    });
  }
  return (await store.list()).filter((env) => env.state !== 'deleted');
}

/** The lab namespace as the provisioner renders it (packages/manifests render.ts LABELS). */
async function createNamespace(kube: Kube, env: Environment): Promise<void> {
  await kube.apply({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: env.namespace,
      labels: { 'breakfix.dev/lab': env.id, 'app.kubernetes.io/managed-by': 'breakfix' },
    },
  });
}

async function redisUsedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / MiB;
}

/** Runs `fn` over `items` with at most `limit` at once; rejects with the first failure. */
async function boundedAll<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

interface Answer {
  op: string;
  ms?: number;
  error?: string;
  summary?: unknown;
  memory: NodeJS.MemoryUsage;
}

interface WorkerProcess {
  /** Sends one command and waits for its answer, at most `timeoutMs`; rejects if the worker dies. */
  send(op: string, timeoutMs: number): Promise<Answer>;
  /** The worker's resident set now and its peak (VmRSS, VmHWM), in bytes. */
  status(): { rss: number; hwm: number };
  kill(): void;
}

function startWorker(config: Record<string, unknown>): WorkerProcess {
  const script = fileURLToPath(new URL('./scale-worker.ts', import.meta.url));
  const child: ChildProcessByStdio<Writable, Readable, null> = spawn(
    process.execPath,
    ['--import', 'tsx', script, JSON.stringify(config)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const waiting: { resolve: (answer: Answer) => void; reject: (error: Error) => void }[] = [];
  let exited: Error | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    const answer = JSON.parse(line) as Answer;
    if (answer.op === 'started') return;
    waiting.shift()?.resolve(answer);
  });
  child.on('exit', (code, signal) => {
    exited = new Error(`the worker exited (${code ?? signal})`);
    for (const waiter of waiting.splice(0)) waiter.reject(exited);
  });
  return {
    send(op, timeoutMs) {
      if (exited !== undefined) return Promise.reject(exited);
      return new Promise<Answer>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`worker: no answer to ${op} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiting.push({
          resolve: (answer) => {
            clearTimeout(timer);
            resolve(answer);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        child.stdin.write(`${op}\n`);
      });
    },
    status() {
      const text = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? Number.NaN) * 1024;
      return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
    },
    kill() {
      if (exited === undefined) child.kill('SIGKILL');
    },
  };
}
