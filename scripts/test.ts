// `npm test`: installs what is missing, checks format, lint, types and shell scripts, starts one
// shared sandbox, runs every *.test.ts with node's test runner, and ends with "N passed, M failed".
//
//   npm test                         everything
//   npm test -- packages/kube        only test files under these paths
//   BREAKFIX_TEST_CONCURRENCY=4      test files run at once (default 4)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSandboxProcess } from '@breakfix/testkit';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const filters = process.argv.slice(2);

function fail(title: string): never {
  console.log(`\n${title} failed`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

function step(title: string, command: string, args: string[]): void {
  console.log(`\n▶ ${title}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) fail(title);
}

function testFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...testFiles(path));
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

step('dependencies: Debian packages, Go-built test binaries', 'bash', ['scripts/ensure-deps.sh']);
step('format and lint (biome)', bin('biome'), ['ci', '.']);
step('types (tsc, per workspace via turbo)', bin('turbo'), ['run', 'typecheck', '--output-logs=errors-only']);
step('types of scripts/', bin('tsc'), ['-p', 'scripts']);
step('types of tests/', bin('tsc'), ['-p', 'tests']);
step('shell scripts (shellcheck)', 'bash', ['-c', 'git ls-files -z "*.sh" | xargs -0 -r shellcheck']);
step('KubeVirt CRDs match their generator', bin('tsx'), ['packages/sandbox/src/crds/generate.ts', '--check']);

const files = ['apps', 'packages', 'scripts', 'tests']
  .filter((dir) => existsSync(join(root, dir)))
  .flatMap((dir) => testFiles(join(root, dir)))
  .filter((file) => filters.length === 0 || filters.some((f) => relative(root, file).startsWith(f)))
  .sort();

// Tests that boot or inspect the golden node image need it built (cached per recipe afterwards).
const NEEDS_NODE_IMAGE = ['tests/images/', 'tests/real-labs/', 'packages/qemu/'];
if (files.some((file) => NEEDS_NODE_IMAGE.some((prefix) => relative(root, file).startsWith(prefix)))) {
  step('the golden node image (images/build.sh: a first build takes 20-30 minutes, then it is cached)', 'bash', [
    'images/build.sh',
  ]);
}

console.log('\n▶ starting the shared sandbox');
const sandbox = await startSandboxProcess().catch((error: unknown) => {
  console.log((error as Error).message);
  return fail('starting the sandbox');
});
console.log(`sandbox up: apiserver ${sandbox.info.apiServerUrl}, redis ${sandbox.info.redisUrl}`);

console.log(`\n▶ tests (${files.length} files)`);
const tests = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${process.env.BREAKFIX_TEST_CONCURRENCY ?? '4'}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'scripts/summary-reporter.mjs')}`,
    '--test-reporter-destination=stdout',
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, BREAKFIX_SANDBOX_FILE: sandbox.infoFile } },
);
const code = await new Promise<number>((resolve) => tests.on('exit', (c) => resolve(c ?? 1)));
if (code !== 0) {
  // What the sandbox (apiserver, simulator) said during a failed run, for whoever debugs it.
  mkdirSync(join(root, 'test-results'), { recursive: true });
  writeFileSync(join(root, 'test-results', 'sandbox.log'), sandbox.output());
}
await sandbox.stop();
process.exit(code);
