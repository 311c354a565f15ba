// `npm run bench`: prints one JSON line per figure: {"name","value","unit"}.
// Figures are measured on this machine, now; compare runs on the same machine only.
//
//   BREAKFIX_BENCH_ONLY=sandbox,simulator   run only these groups
//   BREAKFIX_BENCH_COLD_BUILD=1              also time building the Go test binaries from an
//                                            empty cache (several minutes of both cores)
import { spawnSync } from 'node:child_process';
import { benchApi } from './bench/api.js';
import { benchClaim } from './bench/claim.js';
import { benchIsolation } from './bench/isolation.js';
import { benchPool } from './bench/pool.js';
import { benchRender } from './bench/render.js';
import { benchSandbox } from './bench/sandbox.js';
import { benchSlack } from './bench/slack.js';
import { benchColdBuild } from './bench/testbin.js';

export interface Figure {
  name: string;
  value: number;
  unit: string;
}

const groups: Record<string, () => AsyncGenerator<Figure>> = {
  render: benchRender,
  isolation: benchIsolation,
  pool: benchPool,
  claim: benchClaim,
  sandbox: benchSandbox,
  slack: benchSlack,
  api: benchApi,
  testbin: benchColdBuild,
};

const only = process.env.BREAKFIX_BENCH_ONLY?.split(',');
const deps = spawnSync('bash', ['scripts/ensure-deps.sh'], { stdio: ['ignore', 'ignore', 'inherit'] });
if (deps.status !== 0) process.exit(1);

for (const [name, group] of Object.entries(groups)) {
  if (only !== undefined && !only.includes(name)) continue;
  for await (const figure of group()) console.log(JSON.stringify(figure));
}
