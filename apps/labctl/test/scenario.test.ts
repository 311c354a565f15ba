import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { useSandbox } from '@breakfix/testkit';
import { CLEAR_LINE, onTerminal } from './on-terminal.js';

const LABCTL = fileURLToPath(new URL('../bin/labctl.mjs', import.meta.url));
const CATALOG = fileURLToPath(new URL('../../../scenarios/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../../packages/scenarios/test/fixtures/', import.meta.url));

function execFileText(file: string, args: string[]): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) =>
    execFile(file, args, (error, stdout, stderr) =>
      error ? reject(new Error(stderr || error.message)) : resolve({ stdout }),
    ),
  );
}

function labctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return labctlWith({}, ...args);
}

function labctlWith(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [LABCTL, ...args],
      { cwd: mkdtempSync(join(tmpdir(), 'labctl-')), timeout: 240_000, env: { ...process.env, ...env } },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('labctl scenario list and lint', () => {
  test('list --json names every scenario with its shape, and marks the simulator one', {
    timeout: 120_000,
  }, async () => {
    const { code, stdout } = await labctl('scenario', 'list', '--json');
    assert.equal(code, 0);
    const rows = JSON.parse(stdout) as {
      id: string;
      simulator: boolean;
      hints: number;
      topology: { workers: number };
      cni: string;
      decoys: string[];
    }[];
    assert.ok(rows.filter((r) => !r.simulator).length >= 15);
    assert.ok(rows.every((r) => r.cni === 'flannel'));
    assert.deepEqual(
      rows.filter((r) => !r.simulator && r.decoys.length === 0).map((r) => r.id),
      [],
    );
    assert.deepEqual(
      rows.filter((r) => r.simulator).map((r) => r.id),
      ['sim-kubeconfig-drift'],
    );
    assert.ok(rows.every((r) => r.hints >= 2));
  });

  test('lint all passes on the catalog', async () => {
    const { code, stdout, stderr } = await labctl('scenario', 'lint', 'all');
    assert.equal(code, 0, stdout + stderr);
    const folders = readdirSync(CATALOG, { withFileTypes: true }).filter((e) => e.isDirectory()).length;
    assert.match(stdout, new RegExp(`^${folders} scenarios, no problems$`, 'm'));
  });

  test('lint of a broken folder exits 1 and prints file, field and message per problem', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'broken-')), 'kubelet-stopped');
    cpSync(join(CATALOG, 'kubelet-stopped'), dir, { recursive: true });
    rmSync(join(dir, 'solve.sh'));
    const { code, stdout, stderr } = await labctl('scenario', 'lint', dir);
    assert.equal(code, 1);
    assert.equal(
      stdout,
      `${join(dir, 'scenario.yaml')}: scripts.solve.0.run: refers to solve.sh, which does not exist in ${dir}\n`,
    );
    assert.match(stderr, /1 problem\(s\)/);
  });
});

describe('labctl scenario new and import', () => {
  test('new scaffolds a folder that lints clean', async () => {
    const catalog = mkdtempSync(join(tmpdir(), 'catalog-'));
    const created = await labctl('scenario', 'new', 'disk-full', '--catalog', catalog);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /created .*disk-full: scenario.yaml, break.sh, check.sh, solve.sh/);
    const linted = await labctl('scenario', 'lint', join(catalog, 'disk-full'));
    assert.equal(linted.code, 0, linted.stdout);
  });

  for (const [format, sample] of [
    ['killercoda', 'killercoda/kubelet-down'],
    ['instruqt', 'instruqt/worker-notready'],
  ] as const) {
    test(`import ${format} writes a scenario that lints clean`, async () => {
      const out = join(mkdtempSync(join(tmpdir(), `${format}-`)), 'imported-lab');
      const imported = await labctl('scenario', 'import', format, join(FIXTURES, sample), '--out', out);
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stdout, new RegExp(`into ${out}`));
      const linted = await labctl('scenario', 'lint', out);
      assert.equal(linted.code, 0, linted.stdout);
    });
  }
});

describe('labctl scenario test', () => {
  test('in the sandbox: provisions a lab, breaks it, check fails with feedback, survives a decoy, solves it, check passes, tears down', {
    timeout: 240_000,
  }, async () => {
    const { info } = await useSandbox();
    const sandboxFile = join(mkdtempSync(join(tmpdir(), 'sandbox-')), 'sandbox.json');
    writeFileSync(sandboxFile, JSON.stringify(info));
    const { code, stdout, stderr } = await labctl('scenario', 'test', 'sim-kubeconfig-drift', '--sandbox', sandboxFile);
    assert.equal(code, 0, stdout + stderr);
    const steps = stdout
      .split('\n')
      .filter((line) => /^(ok {2}|FAIL) /.test(line))
      .map((line) => line.replace(/ \(\d+\.\d s\)$/, ''));
    assert.deepEqual(steps, [
      'ok   break',
      'ok   break again',
      'ok   check fails',
      'ok   decoy',
      'ok   solve',
      'ok   check passes',
    ]);
    assert.match(stdout, /The kubeconfig still points at https:\/\/cp-api:6444; the API server listens on port 6443\./);
    assert.match(stdout, /lab st-[0-9a-f]{8} ready in/);
    assert.match(stdout, /tore down lab st-[0-9a-f]{8}/);
    assert.match(stdout, /^PASS sim-kubeconfig-drift$/m);
  });

  test('SIGTERM (a CI timeout, Ctrl-C) tears the lab down before labctl exits', { timeout: 240_000 }, async () => {
    const { info } = await useSandbox();
    const sandboxFile = join(mkdtempSync(join(tmpdir(), 'sandbox-')), 'sandbox.json');
    writeFileSync(sandboxFile, JSON.stringify(info));
    // Given a run that has started to provision its lab
    const child = spawn(
      process.execPath,
      [LABCTL, 'scenario', 'test', 'sim-kubeconfig-drift', '--sandbox', sandboxFile],
      {
        cwd: mkdtempSync(join(tmpdir(), 'labctl-')),
      },
    );
    let stdout = '';
    const labId = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const id = /provisioning lab (st-[0-9a-f]{8})/.exec(stdout)?.[1];
        if (id !== undefined) resolve(id);
      });
      child.on('exit', () => reject(new Error(`labctl exited before provisioning:\n${stdout}`)));
    });
    // When it is told to stop
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    // Then it says so, tears the lab down, and exits with 128 + SIGTERM
    assert.equal(await exited, 143, stdout);
    assert.match(stdout, /SIGTERM: stopping, and tearing down the lab/);
    assert.match(stdout, new RegExp(`tore down lab ${labId}`));
    assert.doesNotMatch(stdout, /PASS sim-kubeconfig-drift/);
    // and the lab's namespace is gone or going
    const { stdout: phase } = await execFileText(info.kubectl ?? 'kubectl', [
      '--kubeconfig',
      info.kubeconfig,
      'get',
      'namespaces',
      '-l',
      `breakfix.dev/lab=${labId}`,
      '-o',
      'jsonpath={.items[*].status.phase}',
    ]);
    assert.match(phase.trim(), /^(Terminating)?$/, `namespace of ${labId}: ${phase}`);
  });

  test('two scenarios of one shape share a lab; --json prints one line per scenario with seconds per phase', {
    timeout: 240_000,
  }, async () => {
    const { info } = await useSandbox();
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-'));
    const sandboxFile = join(dir, 'sandbox.json');
    writeFileSync(sandboxFile, JSON.stringify(info));
    // A catalog of two simulator scenarios of the same shape
    const catalog = join(dir, 'catalog');
    for (const id of ['sim-one', 'sim-two']) {
      cpSync(join(CATALOG, 'sim-kubeconfig-drift'), join(catalog, id), { recursive: true });
      const file = join(catalog, id, 'scenario.yaml');
      writeFileSync(file, readFileSync(file, 'utf8').replace(/^id: .*$/m, `id: ${id}`));
    }
    const { code, stdout, stderr } = await labctl(
      'scenario',
      'test',
      '--all',
      '--json',
      '--catalog',
      catalog,
      '--sandbox',
      sandboxFile,
    );
    assert.equal(code, 0, stdout + stderr);
    const runs = stdout
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            scenario: string;
            version: string;
            ok: boolean;
            reusedLab: boolean;
            labId: string;
            seconds: Record<string, number>;
          },
      );
    assert.deepEqual(
      runs.map((r) => [r.scenario, r.version, r.ok, r.reusedLab]),
      [
        ['sim-one', '1.36', true, false],
        ['sim-two', '1.36', true, true],
      ],
    );
    assert.equal(runs[0]?.labId, runs[1]?.labId, 'one lab for both');
    assert.ok((runs[0]?.seconds.provision ?? 0) > 0, 'the first run booted the lab');
    assert.equal(runs[1]?.seconds.provision, undefined, 'the second did not');
    for (const phase of ['break', 'break again', 'check fails', 'decoy', 'solve', 'check passes'])
      assert.equal(typeof runs[1]?.seconds[phase], 'number', phase);
    // progress goes to stderr as plain lines (no status line off a terminal), the summary last
    assert.match(stderr, /reusing lab st-[0-9a-f]{8}: the previous scenario left it solved/);
    assert.ok(!stderr.includes('\r'), 'no status line');
    assert.match(stderr, /tore down lab st-[0-9a-f]{8}\n[\s\S]*2 passed, 0 failed\n$/);
  });

  test('on a terminal, a status line says which phase runs and for how long; the report lines stay', {
    timeout: 240_000,
  }, async () => {
    const { info } = await useSandbox();
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-'));
    const sandboxFile = join(dir, 'sandbox.json');
    writeFileSync(sandboxFile, JSON.stringify(info));
    const { code, output } = await onTerminal(
      dir,
      {},
      ['scenario', 'test', 'sim-kubeconfig-drift', '--sandbox', sandboxFile],
      220_000,
    );
    assert.equal(code, 0, output);
    const frames = output.split(CLEAR_LINE).map((frame) => frame.split('\r\n')[0] ?? '');
    for (const phase of [
      /provisioning lab st-[0-9a-f]{8}/,
      /sim-kubeconfig-drift: break/,
      /sim-kubeconfig-drift: solve/,
    ])
      assert.ok(
        frames.some((frame) => phase.test(frame) && /\(\d+ s\)$/.test(frame)),
        `a status line ${phase} with its time:\n${JSON.stringify(frames)}`,
      );
    // what stays on the screen: each line as the last redraw left it
    const screen = output.split('\r\n').map((line) => line.split(CLEAR_LINE).at(-1));
    assert.ok(
      screen.some((line) => /^ok {3}check passes \(\d+\.\d s\)$/.test(line ?? '')),
      screen.join('\n'),
    );
    assert.ok(screen.includes('PASS sim-kubeconfig-drift'), screen.join('\n'));
    assert.ok(output.endsWith(CLEAR_LINE), 'the status line is cleared at the end');
  });

  test('a real-cluster scenario in the sandbox boots real guests: without the golden image of its release it says how to build one', async () => {
    const { info } = await useSandbox();
    const sandboxFile = join(mkdtempSync(join(tmpdir(), 'sandbox-')), 'sandbox.json');
    writeFileSync(sandboxFile, JSON.stringify(info));
    // 1.35 is in the scenario's releases, and the image cache labctl looks in is empty (this
    // machine's own cache may hold a 1.35 image: then a real lab would boot)
    const { code, stdout, stderr } = await labctlWith(
      { BREAKFIX_CACHE_DIR: mkdtempSync(join(tmpdir(), 'no-images-')) },
      'scenario',
      'test',
      'kubelet-stopped',
      '--sandbox',
      sandboxFile,
      '--k8s',
      '1.35',
    );
    assert.equal(code, 3, 'what it needs is not there');
    assert.match(stderr, /kubelet-stopped needs a real Kubernetes 1\.35 node: no golden image for v1\.35\.\d+/);
    assert.match(stderr, /build it with `bash images\/build\.sh v1\.35\.\d+`/);
    assert.doesNotMatch(stdout, /provisioning/, 'nothing was provisioned');
  });

  test('against a real cluster, names the flags it still needs', async () => {
    const { code, stderr } = await labctl('scenario', 'test', 'kubelet-stopped', '--kubeconfig', '/nonexistent');
    assert.equal(code, 2, 'a usage error');
    assert.match(stderr, /--redis-url, --platform and --operator-key are required with --kubeconfig/);
  });

  test('an unknown scenario id points at the list', async () => {
    const { code, stderr } = await labctl('scenario', 'test', 'no-such-scenario');
    assert.equal(code, 3, 'not found');
    assert.match(stderr, /no scenario "no-such-scenario" in the catalog\n {2}-> see `labctl scenario list`/);
  });
});
