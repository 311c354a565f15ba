import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { resolveNca, verifyIsolation } from '@breakfix/isolation';
import { startSandbox } from '@breakfix/sandbox';
import type { BenchSettings } from '../bench.js';
import { VERIFY_PLATFORM } from '../verify-isolation-platform.js';
import { type Figure, latency, value } from './stats.js';

const WORKER = fileURLToPath(new URL('./nodeport-worker.ts', import.meta.url));
const PROCESSES = 4;
const PER_PROCESS = 500;
const WARMUP_PER_PROCESS = 5;

interface WorkerReport {
  startedAt: number;
  endedAt: number;
  latencies: number[];
  failures: number;
  errors: string[];
}

/**
 * NodePort allocations from 4 processes against one redis-server: each warms up, then all start
 * together on a signal; the rate is successful allocations over one window, from the first
 * process's start to the last one's end. Failed allocations are counted, never as allocations.
 * Then the isolation analyzer's time for 50 labs.
 */
export async function* benchIsolation(_settings: BenchSettings): AsyncGenerator<Figure> {
  const sandbox = await startSandbox({ simulator: false });
  try {
    const spawned = performance.now();
    const workers = Array.from({ length: PROCESSES }, (_, p) => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          WORKER,
          sandbox.redisUrl,
          'bench:',
          String(PER_PROCESS),
          `p${p}`,
          '30000',
          '32767',
          String(WARMUP_PER_PROCESS),
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      const lines = createInterface({ input: child.stdout });
      const ready = new Promise<void>((resolve, reject) => {
        lines.once('line', (line) => (line === 'ready' ? resolve() : reject(new Error(`worker said ${line}`))));
        child.once('exit', (code) => reject(new Error(`worker exited ${code} before it was ready`)));
      });
      const report = ready.then(
        () =>
          new Promise<WorkerReport>((resolve, reject) => {
            lines.once('line', (line) => resolve(JSON.parse(line) as WorkerReport));
            child.once('exit', (code) => {
              if (code !== 0) reject(new Error(`worker exited ${code}`));
            });
          }),
      );
      return { child, ready, report };
    });
    await Promise.all(workers.map((w) => w.ready));
    for (const worker of workers) worker.child.stdin.end('go\n');
    const reports = await Promise.all(workers.map((w) => w.report));
    const wall = performance.now() - spawned;

    const failures = reports.reduce((sum, r) => sum + r.failures, 0);
    for (const error of new Set(reports.flatMap((r) => r.errors))) console.error(`nodeport: ${error}`);
    const attempts = PROCESSES * PER_PROCESS;
    const windowMs = Math.max(...reports.map((r) => r.endedAt)) - Math.min(...reports.map((r) => r.startedAt));
    yield value(
      `nodeport.allocations_per_second (${PROCESSES} processes x ${PER_PROCESS} at once, one window over all)`,
      (attempts - failures) / (windowMs / 1000),
      'allocations/s',
      { n: attempts, failures },
    );
    yield latency(
      `nodeport.allocate (one call, ${PROCESSES} processes x ${PER_PROCESS} in flight)`,
      reports.flatMap((r) => r.latencies),
      { failures, digits: 2 },
    );
    yield value('nodeport.allocation_run.wall_incl_process_start (one run)', wall, 'ms');
  } finally {
    await sandbox.stop();
  }
  const report = await verifyIsolation({ platform: VERIFY_PLATFORM, nca: await resolveNca(), labs: 50 });
  yield value('isolation.analyzer.50_labs (one run)', report.analyzerMs, 'ms');
}
