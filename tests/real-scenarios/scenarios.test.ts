import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { useSandbox } from '@breakfix/testkit';

// Scenarios on a real lab (`npm test -- tests/real-scenarios`): one 1+1 kubeadm lab booted under QEMU from the
// golden image with the platform's own cloud-init, then a control-plane fault, a worker fault and
// a scheduling fault proven on it one after another (break, check fails, decoys, solve, check
// passes) through `labctl scenario test`, exactly as an instructor runs it. The whole catalog is
// `labctl scenario test --all` (docs/instructor-guide.md).

const LABCTL = fileURLToPath(new URL('../../apps/labctl/bin/labctl.mjs', import.meta.url));
const SCENARIOS = ['scheduler-bad-kubeconfig', 'kubelet-stopped', 'scheduling-tainted-worker'];

interface Run {
  scenario: string;
  version: string;
  ok: boolean;
  reusedLab: boolean;
  labId?: string;
  seconds: Record<string, number>;
  error?: string;
}

test('a control-plane, a worker and a scheduling fault, each proven on one real 1+1 lab', {
  timeout: 75 * 60_000,
}, async () => {
  const { info } = await useSandbox();
  const sandboxFile = join(mkdtempSync(join(tmpdir(), 'sandbox-')), 'sandbox.json');
  writeFileSync(sandboxFile, JSON.stringify(info));
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [LABCTL, 'scenario', 'test', ...SCENARIOS, '--json', '--sandbox', sandboxFile],
      { timeout: 74 * 60_000, maxBuffer: 64 * 1024 * 1024 },
      (error, out, err) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout: out, stderr: err }),
    );
  });
  // What the guests went through, for whoever reads a failure
  console.log(stderr);
  const runs = stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Run);
  console.log(JSON.stringify(runs.map((r) => ({ scenario: r.scenario, ok: r.ok, seconds: r.seconds }))));
  assert.deepEqual(
    runs.map((r) => [r.scenario, r.ok, r.error]),
    SCENARIOS.map((id) => [id, true, undefined]),
  );
  assert.equal(code, 0);
  // one boot: each scenario left the lab solved with both nodes Ready for the next
  assert.deepEqual(
    runs.map((r) => r.reusedLab),
    [false, true, true],
  );
  assert.equal(new Set(runs.map((r) => r.labId)).size, 1);
  for (const run of runs)
    for (const phase of ['break', 'break again', 'check fails', 'decoy', 'solve', 'check passes'])
      assert.equal(typeof run.seconds[phase], 'number', `${run.scenario}: ${phase}`);
  assert.match(stderr, /tore down lab st-[0-9a-f]{8}/);
});
