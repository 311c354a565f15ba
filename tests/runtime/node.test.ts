import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { closeRedisConnections, useSandbox } from '@breakfix/testkit';

// One runtime: the tests, the sandbox and the platform image run the Node that
// scripts/ensure-node.sh pins (docs/adr/0026).
const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const pinned = /^version=(\d+)\.\d+\.\d+$/m.exec(read('scripts/ensure-node.sh'))?.[1] ?? assert.fail('no version=');
const majorOf = (version: string) => version.replace(/^v/, '').split('.')[0];
after(closeRedisConnections);

test('the tests run on the pinned Node, and a `node` they start from PATH is the same binary', {
  timeout: 30_000,
}, async () => {
  assert.equal(majorOf(process.versions.node), pinned, `this test runs on ${process.execPath}`);
  const { stdout } = await run('node', ['-p', 'process.execPath'], { timeout: 20_000 });
  assert.equal(realpathSync(stdout.trim()), realpathSync(process.execPath));
});

test('the shared sandbox process runs on the pinned Node', { timeout: 180_000 }, async () => {
  const { info } = await useSandbox();
  // The kernel's view of the sandbox's process: whatever binary it runs, not what it says it is.
  const exe = readlinkSync(`/proc/${info.pid}/exe`);
  const { stdout } = await run(exe, ['-v'], { timeout: 20_000 });
  assert.equal(majorOf(stdout.trim()), pinned, `the sandbox (pid ${info.pid}) runs ${exe}`);
});

test('the platform image and `engines` name the same Node major', { timeout: 10_000 }, () => {
  const dockerfile = read('Dockerfile');
  assert.equal(/^ARG NODE_IMAGE=node:(\d+)-bookworm-slim$/m.exec(dockerfile)?.[1], pinned, 'build stage');
  assert.equal(/^ARG RUNTIME_IMAGE=\S+\/nodejs(\d+)-debian12:nonroot$/m.exec(dockerfile)?.[1], pinned, 'runtime');
  const manifest = JSON.parse(read('package.json')) as { engines: { node: string } };
  assert.equal(manifest.engines.node, `>=${pinned}`);
});

test('every native addon built in node_modules loads on this Node', { timeout: 30_000 }, () => {
  // Packages with an install script are the ones that may have compiled an addon for one ABI.
  const lock = JSON.parse(read('package-lock.json')) as {
    packages: Record<string, { hasInstallScript?: boolean }>;
  };
  const addons = Object.entries(lock.packages)
    .filter(([path, entry]) => entry.hasInstallScript && path.startsWith('node_modules/'))
    .map(([path]) => join(root, path))
    .flatMap((dir) => releaseDirs(dir))
    .flatMap((dir) =>
      readdirSync(dir)
        .filter((name) => name.endsWith('.node'))
        .map((name) => join(dir, name)),
    );
  const require = createRequire(import.meta.url);
  for (const addon of addons) assert.doesNotThrow(() => require(addon), addon);
});

/** The `build/Release` folders node-gyp writes, anywhere in a package. */
function releaseDirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isDirectory() && entry.name === 'Release' && entry.parentPath.endsWith('/build'))
      found.push(join(entry.parentPath, entry.name));
  }
  return found;
}
