import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolveNca, verifyIsolation } from '@breakfix/isolation';
import { startSandbox } from '@breakfix/sandbox';
import type { Figure } from '../bench.js';
import { VERIFY_PLATFORM } from '../verify-isolation-platform.js';
import { round } from './stats.js';

const WORKER = fileURLToPath(new URL('../../packages/pool/test/alloc-worker.ts', import.meta.url));
const PROCESSES = 4;
const PER_PROCESS = 500;

/** NodePort allocations per second from 4 processes against one redis-server, and the analyzer's time. */
export async function* benchIsolation(): AsyncGenerator<Figure> {
  const sandbox = await startSandbox({ simulator: false });
  try {
    const started = performance.now();
    const runs = Array.from(
      { length: PROCESSES },
      (_, p) =>
        new Promise<number>((resolve, reject) => {
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
              '600000',
              '30000',
              '32767',
            ],
            { stdio: ['ignore', 'pipe', 'inherit'] },
          );
          let out = '';
          child.stdout.on('data', (chunk) => {
            out += chunk;
          });
          child.on('exit', (code) =>
            code === 0 ? resolve((JSON.parse(out) as { ms: number }).ms) : reject(new Error(`worker ${code}`)),
          );
        }),
    );
    const workerMs = await Promise.all(runs);
    const wall = performance.now() - started;
    const total = PROCESSES * PER_PROCESS;
    yield {
      name: `nodeport.allocations_per_second (${PROCESSES} processes x ${PER_PROCESS}, inside the workers)`,
      value: round(total / (Math.max(...workerMs) / 1000)),
      unit: 'allocations/s',
    };
    yield { name: 'nodeport.allocation_run.wall_incl_process_start', value: round(wall), unit: 'ms' };
  } finally {
    await sandbox.stop();
  }
  const report = await verifyIsolation({ platform: VERIFY_PLATFORM, nca: await resolveNca(), labs: 50 });
  yield { name: 'isolation.analyzer.50_labs', value: round(report.analyzerMs), unit: 'ms' };
}
