import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Figure } from '../bench.js';
import { round } from './stats.js';

/**
 * Builds the Go test binaries into an empty cache with an empty Go build cache. The Go module
 * cache stays warm: downloading is the network's speed, not ours.
 */
export async function* benchColdBuild(): AsyncGenerator<Figure> {
  if (process.env.BREAKFIX_BENCH_COLD_BUILD !== '1') return;
  const cache = mkdtempSync(join(tmpdir(), 'breakfix-bench-cache-'));
  try {
    const started = performance.now();
    const result = spawnSync('bash', ['infra/testbin/build.sh'], {
      env: { ...process.env, BREAKFIX_CACHE_DIR: cache, GOCACHE: join(cache, 'go-build') },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (result.status !== 0) throw new Error('build.sh failed');
    yield {
      name: 'testbin.build.empty_cache (7 binaries: apiserver, controller-manager, etcd, kubectl, 3 kubeadm; warm module cache)',
      value: round((performance.now() - started) / 1000),
      unit: 's',
    };
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}
