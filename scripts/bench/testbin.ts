import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BenchSettings } from '../bench.js';
import { type Figure, value } from './stats.js';

/**
 * Builds the Go test binaries into an empty cache with an empty Go build cache. The Go module
 * cache stays warm: downloading is the network's speed, not ours.
 */
export async function* benchColdBuild(settings: BenchSettings): AsyncGenerator<Figure> {
  if (!settings.coldBuild) return;
  const cache = mkdtempSync(join(tmpdir(), 'breakfix-bench-cache-'));
  try {
    const started = performance.now();
    const result = spawnSync('bash', ['infra/testbin/build.sh'], {
      env: { ...process.env, BREAKFIX_CACHE_DIR: cache, GOCACHE: join(cache, 'go-build') },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (result.status !== 0) throw new Error('build.sh failed');
    yield value(
      'testbin.build.empty_cache (7 binaries: apiserver, controller-manager, etcd, kubectl, 3 kubeadm; warm module cache; one run)',
      (performance.now() - started) / 1000,
      's',
    );
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}
