import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_CATALOG_DIR } from '../src/index.js';

const SCENARIO = join(DEFAULT_CATALOG_DIR, 'containerd-socket-moved');

/** The [grpc] table as `containerd config default` writes it: 1.7 (version 2) and 2.x (version 3). */
const CONFIGS: Record<string, string> = {
  'containerd 1.7':
    'version = 2\n\n[debug]\n  address = ""\n\n[grpc]\n  address = "/run/containerd/containerd.sock"\n  gid = 0\n\n[ttrpc]\n  address = ""\n',
  'containerd 2.x':
    "version = 3\n\n[debug]\n  address = ''\n\n[grpc]\n  address = '/run/containerd/containerd.sock'\n  gid = 0\n\n[ttrpc]\n  address = ''\n",
  'an implicit default socket': 'version = 3\n\n[grpc]\n  gid = 0\n',
};

function run(script: string, config: string): void {
  // The scripts restart nothing when pointed at a file of their own.
  execFileSync('bash', [join(SCENARIO, script)], {
    env: { PATH: process.env.PATH, BREAKFIX_CONTAINERD_CONFIG: config },
  });
}

const grpcAddress = (config: string) =>
  /^\[grpc\]\n(?:.*\n)*?\s*address = (.*)$/m.exec(readFileSync(config, 'utf8'))?.[1];

for (const [what, content] of Object.entries(CONFIGS)) {
  test(`containerd-socket-moved breaks and solves the config of ${what}`, { timeout: 10_000 }, () => {
    const config = join(mkdtempSync(join(tmpdir(), 'containerd-')), 'config.toml');
    writeFileSync(config, content);
    // When broken twice, then the gRPC socket moved once and nothing else changed
    run('break.sh', config);
    run('break.sh', config);
    assert.equal(grpcAddress(config), '"/run/containerd/cri.sock"');
    assert.equal(readFileSync(config, 'utf8').match(/cri\.sock/g)?.length, 1);
    // When solved, then containerd listens where the kubelet looks
    run('solve.sh', config);
    assert.equal(grpcAddress(config), '"/run/containerd/containerd.sock"');
  });
}
