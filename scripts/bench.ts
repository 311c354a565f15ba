// `npm run bench`: prints one JSON line per figure, `{"name","unit","n",...}`: latencies carry
// p50/p90/p99/max and `failures`, single numbers carry `value`. A percentile is named only when
// the samples support it (p99 needs 200; see scripts/bench/stats.ts): with fewer there is `max`
// and `n`. Figures are measured on this machine, now; compare runs on the same machine only,
// with nothing else running (another job's VM distorts every figure).
//
//   BREAKFIX_BENCH_ONLY=claim,api            run only these groups (render, isolation, pool, scale,
//                                            claim, sandbox, slack, api, testbin, boot)
//   BREAKFIX_BENCH_CLAIMS=200                measured claims per series (pool, claim, api); p99 needs 200
//   BREAKFIX_BENCH_LEARNERS=50               learners claiming at once, and labs per round
//   BREAKFIX_BENCH_WARMUP=5                  claims before each series, not measured
//   BREAKFIX_BENCH_SCALE_SIZES=1000,10000   lab records per `scale` run (each on a fresh sandbox)
//   BREAKFIX_BENCH_COLD_BUILD=1              also time building the Go test binaries from an
//                                            empty cache (several minutes of both cores)
//   BREAKFIX_BENCH_BOOTS=3                   boot the golden image to SSH this many times each
//                                            way (UEFI as KubeVirt does, and direct kernel):
//                                            minutes each under TCG, so 0 unless the `boot`
//                                            group is asked for by name (then 1)
//
// `scale` runs the pool worker in its own process over 1 000 and 10 000 lab records (a fresh
// sandbox each, namespaces included): reconcile and tick durations, the worker's RSS and peak.
//
// Small runs for trying a change: BREAKFIX_BENCH_CLAIMS=20 BREAKFIX_BENCH_LEARNERS=10.
import { spawnSync } from 'node:child_process';
import { benchApi } from './bench/api.js';
import { benchBoot } from './bench/boot.js';
import { benchClaim } from './bench/claim.js';
import { benchIsolation } from './bench/isolation.js';
import { benchPool } from './bench/pool.js';
import { benchRender } from './bench/render.js';
import { benchSandbox } from './bench/sandbox.js';
import { benchScale } from './bench/scale.js';
import { benchSlack } from './bench/slack.js';
import type { Figure } from './bench/stats.js';
import { benchColdBuild } from './bench/testbin.js';

/** How much each claim series measures (from the environment, above). */
export interface BenchSettings {
  claims: number;
  learners: number;
  warmup: number;
  coldBuild: boolean;
  boots: number;
}

function count(variable: string, fallback: number, min: number): number {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return fallback;
  const parsed = Number(raw);
  if (!Number.isInteger(parsed) || parsed < min) {
    console.error(`${variable}=${raw}: expected a whole number of at least ${min}`);
    process.exit(2);
  }
  return parsed;
}

const settings: BenchSettings = {
  claims: count('BREAKFIX_BENCH_CLAIMS', 200, 1),
  learners: count('BREAKFIX_BENCH_LEARNERS', 50, 1),
  warmup: count('BREAKFIX_BENCH_WARMUP', 5, 0),
  coldBuild: process.env.BREAKFIX_BENCH_COLD_BUILD === '1',
  boots: count('BREAKFIX_BENCH_BOOTS', process.env.BREAKFIX_BENCH_ONLY?.split(',').includes('boot') ? 1 : 0, 0),
};

const groups: Record<string, (settings: BenchSettings) => AsyncGenerator<Figure>> = {
  render: benchRender,
  isolation: benchIsolation,
  pool: benchPool,
  scale: benchScale,
  claim: benchClaim,
  sandbox: benchSandbox,
  slack: benchSlack,
  api: benchApi,
  testbin: benchColdBuild,
  boot: benchBoot,
};

const only = process.env.BREAKFIX_BENCH_ONLY?.split(',');
const unknown = only?.filter((name) => !(name in groups)) ?? [];
if (unknown.length > 0) {
  console.error(`BREAKFIX_BENCH_ONLY: no group ${unknown.join(', ')} (groups: ${Object.keys(groups).join(', ')})`);
  process.exit(2);
}
const deps = spawnSync('bash', ['scripts/ensure-deps.sh'], { stdio: ['ignore', 'ignore', 'inherit'] });
if (deps.status !== 0) process.exit(1);

for (const [name, group] of Object.entries(groups)) {
  if (only !== undefined && !only.includes(name)) continue;
  for await (const figure of group(settings)) console.log(JSON.stringify(figure));
}
