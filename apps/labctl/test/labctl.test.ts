import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const LABCTL = fileURLToPath(new URL('../bin/labctl.mjs', import.meta.url));

function labctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [LABCTL, ...args],
      { cwd: mkdtempSync(join(tmpdir(), 'labctl-')) },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('labctl render', () => {
  test('prints multi-document YAML for kubectl apply -f -, and keeps the generated operator key', async () => {
    const { code, stdout, stderr } = await labctl('render', '--k8s', '1.35', '--workers', '2', '--lab-id', 'cli');
    assert.equal(code, 0, stderr);
    const objects = parseAllDocuments(stdout).map((doc) => doc.toJS() as { kind: string; metadata: { name: string } });
    assert.equal(objects.filter((o) => o.kind === 'VirtualMachine').length, 3);
    assert.equal(objects[0]?.metadata.name, 'lab-cli');
    assert.match(stderr, /wrote a new operator key to \.breakfix\/keys\/cli_operator_ed25519/);
  });

  test('--out writes one file per object, Secrets readable by the owner only', async () => {
    const out = mkdtempSync(join(tmpdir(), 'labctl-out-'));
    const { code, stderr } = await labctl('render', '--k8s', '1.36', '--lab-id', 'files', '--out', out);
    assert.equal(code, 0, stderr);
    const files = readdirSync(out).filter((f) => f.endsWith('.yaml'));
    assert.deepEqual(files.slice(0, 3), [
      '00-namespace-lab-files.yaml',
      '01-resourcequota-lab.yaml',
      '02-limitrange-lab.yaml',
    ]);
    const secret = files.find((f) => f.includes('secret'));
    assert.ok(secret);
    assert.equal(statSync(join(out, secret)).mode & 0o777, 0o600);
  });

  // Exit code 2: the command line is wrong, and the message says how
  const failures: [string, string[], RegExp][] = [
    [
      'an unsupported version, naming the supported ones',
      ['render', '--k8s', '1.20'],
      /1\.20 is not supported; supported: 1\.34/,
    ],
    ['too many workers', ['render', '--k8s', '1.36', '--workers', '12'], /workers: 12 is too many/],
    ['a missing --k8s', ['render'], /--k8s is required/],
    [
      'an unknown flag, naming the closest one',
      ['render', '--k8s', '1.36', '--wrkers', '1'],
      /^error: unknown option '--wrkers'\n\(Did you mean --workers\?\)\n/,
    ],
    [
      'an unknown command, naming the closest one',
      ['rendr'],
      /^error: unknown command 'rendr'\n\(Did you mean render\?\)\n/,
    ],
    [
      'a size that is not a profile',
      ['render', '--k8s', '1.36', '--size', 'huge'],
      /Allowed choices are small, medium, large/,
    ],
  ];
  for (const [what, args, message] of failures) {
    test(`fails clearly on ${what}`, async () => {
      const { code, stderr, stdout } = await labctl(...args);
      assert.equal(code, 2, stderr);
      assert.match(stderr, message);
      assert.equal(stdout, '');
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    });
  }
});

describe('labctl capacity', () => {
  test('counts labs per 64 GiB host from requests plus overhead', async () => {
    const { code, stdout } = await labctl('capacity', '--host-memory', '64Gi', '--size', 'small', '--json');
    assert.equal(code, 0);
    const result = JSON.parse(stdout) as { rows: { vms: number; labs: number; memoryPerLabMiB: number }[] };
    const [one, three] = result.rows;
    assert.equal(one?.vms, 1);
    assert.equal(three?.vms, 3);
    assert.equal(three?.labs, Math.floor((64 * 1024) / (three?.memoryPerLabMiB ?? 1)));
  });

  test('a CPU-bound host says so', async () => {
    const { stdout } = await labctl(
      'capacity',
      '--host-memory',
      '256Gi',
      '--host-cpu',
      '4',
      '--workers',
      '2',
      '--size',
      'medium',
    );
    // 3 x (VM request + 6m of launcher support containers) = 2.018 cores: one lab on 4 cores
    assert.match(stdout, /medium\s+3\s+\S+ GiB\s+2\.018\s+1\s+cpu/);
  });

  test('rejects a memory size it cannot read', async () => {
    const { code, stderr } = await labctl('capacity', '--host-memory', 'lots');
    assert.equal(code, 2);
    assert.match(stderr, /--host-memory: "lots" is not a memory quantity such as 64Gi/);
  });
});
