// `npm test`: installs what is missing, checks format, lint, types and shell scripts, starts one
// shared sandbox, runs every *.test.ts with node's test runner, and ends with "N passed, M failed,
// K skipped".
//
//   npm test                         everything
//   npm test -- packages/kube        only test files under these paths (no repo-wide checks)
//   BREAKFIX_TEST_CONCURRENCY=4      test files run at once (default 4)
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSandboxProcess } from '@breakfix/testkit';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const filters = process.argv.slice(2);

function fail(title: string): never {
  console.log(`\n${title} failed`);
  console.log('0 passed, 1 failed, 0 skipped');
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

const files = ['apps', 'packages', 'scripts', 'tests']
  .filter((dir) => existsSync(join(root, dir)))
  .flatMap((dir) => testFiles(join(root, dir)))
  .filter((file) => filters.length === 0 || filters.some((f) => relative(root, file).startsWith(f)))
  .sort();
const unmatched = filters.filter((f) => !files.some((file) => relative(root, file).startsWith(f)));
if (unmatched.length > 0) {
  // A typo in a path must not pass as a green run of nothing.
  fail(`finding test files under ${unmatched.join(', ')} (paths are relative to the repository root)`);
}

// Every temporary file of the run (test work dirs, the sandbox's etcd and guests, image scratch)
// goes under one directory that the run removes at its end: a day of runs used to leave thousands
// of directories and gigabytes in /tmp. The name is short because QEMU's and sshd's Unix sockets
// live under it (108 bytes at most). BREAKFIX_KEEP_TMP=1 keeps it for a post-mortem.
const runTmp = mkdtempSync(join(tmpdir(), 'bf-'));
process.env.TMPDIR = runTmp;
function removeRunTmp(): void {
  if (process.env.BREAKFIX_KEEP_TMP === '1') console.log(`temporary files of this run kept in ${runTmp}`);
  else rmSync(runTmp, { recursive: true, force: true });
}
process.on('exit', removeRunTmp);

// npm test starts through scripts/ensure-node.sh: this process and every node it starts (the
// sandbox, the test runner, each test file) run on the Node it pins.
console.log(`▶ Node ${process.version} (${process.execPath})`);
step('dependencies: Debian packages, Go-built test binaries', 'bash', ['scripts/ensure-deps.sh']);
// The repository-wide checks run on every full run (and so in CI); a run narrowed to some paths
// is for iterating on those tests, and skips them.
if (filters.length === 0) {
  step('format and lint (biome)', bin('biome'), ['ci', '.']);
  step('types (tsc, per workspace via turbo)', bin('turbo'), ['run', 'typecheck', '--output-logs=errors-only']);
  step('types of scripts/', bin('tsc'), ['-p', 'scripts']);
  step('types of tests/', bin('tsc'), ['-p', 'tests']);
  step('shell scripts (shellcheck)', 'bash', ['-c', 'git ls-files -z "*.sh" | xargs -0 -r shellcheck']);
  step('KubeVirt CRDs match their generator', bin('tsx'), ['packages/sandbox/src/crds/generate.ts', '--check']);
} else {
  console.log(
    '\n▶ format, lint, types, shellcheck and CRD checks: skipped for a narrowed run (plain `npm test` runs them)',
  );
}

// Tests that boot or inspect the golden node image need it built (cached per recipe afterwards).
const NEEDS_NODE_IMAGE = ['tests/images/', 'tests/real-labs/', 'tests/real-scenarios/', 'packages/qemu/'];
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

// Real guests (QEMU under emulation) take both cores for minutes: they run after the rest, one
// file at a time, so they neither starve nor are starved by the orchestration tests. So does the
// official-source image build (a minute of compressing gigabytes), whose load once pushed a
// latency-bounded API test over its limit.
const REAL_GUESTS = [
  'tests/real-labs/',
  'tests/real-scenarios/',
  'packages/qemu/test/boot.test.ts',
  'tests/images/official-source.test.ts',
];
const isRealGuest = (file: string) => REAL_GUESTS.some((prefix) => relative(root, file).startsWith(prefix));
// Every test has a deadline: one that sets none gets the batch's, so a hung SSH channel or
// sandbox fails the run instead of stalling it.
const batches = [
  {
    title: 'tests',
    files: files.filter((file) => !isRealGuest(file)),
    concurrency: process.env.BREAKFIX_TEST_CONCURRENCY ?? '4',
    timeoutMs: 10 * 60_000,
  },
  {
    title: 'tests with real guests (QEMU) or heavy builds, one at a time',
    files: files.filter(isRealGuest),
    concurrency: '1',
    timeoutMs: 60 * 60_000,
  },
].filter((batch) => batch.files.length > 0);

const countsFile = join(mkdtempSync(join(tmpdir(), 'breakfix-counts-')), 'counts.jsonl');
let code = 0;
for (const batch of batches) {
  console.log(`\n▶ ${batch.title} (${batch.files.length} files)`);
  const tests = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${batch.concurrency}`,
      `--test-timeout=${batch.timeoutMs}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=${join(root, 'scripts/summary-reporter.mjs')}`,
      '--test-reporter-destination=stdout',
      ...batch.files,
    ],
    {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, BREAKFIX_SANDBOX_FILE: sandbox.infoFile, BREAKFIX_TEST_COUNTS: countsFile },
    },
  );
  const exit = await new Promise<number>((resolve) => tests.on('exit', (c) => resolve(c ?? 1)));
  if (exit !== 0) code = exit;
}
// One closing line for every batch together: "N passed, M failed, K skipped".
const totals = (existsSync(countsFile) ? readFileSync(countsFile, 'utf8').trim().split('\n') : [])
  .filter((line) => line !== '')
  .map((line) => JSON.parse(line) as { passed: number; failed: number; skipped: number })
  .reduce(
    (sum, c) => ({ passed: sum.passed + c.passed, failed: sum.failed + c.failed, skipped: sum.skipped + c.skipped }),
    { passed: 0, failed: 0, skipped: 0 },
  );
if (code !== 0) {
  // What the sandbox (apiserver, simulator) said during a failed run, for whoever debugs it.
  mkdirSync(join(root, 'test-results'), { recursive: true });
  writeFileSync(join(root, 'test-results', 'sandbox.log'), sandbox.output());
}
await sandbox.stop();
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(code);
