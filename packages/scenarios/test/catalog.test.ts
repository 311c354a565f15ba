import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { InvalidInputError } from '@breakfix/core';
import { parse, stringify } from 'yaml';
import {
  DEFAULT_CATALOG_DIR,
  importInstruqt,
  importKillercoda,
  lintCatalog,
  lintScenario,
  loadCatalog,
  loadScenario,
  type Problem,
  scaffoldScenario,
} from '../src/index.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const NO_DECOY_WARNING =
  'no decoy on the source platform: decoy.sh fails until you write a plausible wrong fix the check must reject';
/** A real-cluster scenario with one worker and one decoy that lints clean but for what its name says. */
const REAL = join(FIXTURES, 'lint/unknown-node');
const SIM = join(DEFAULT_CATALOG_DIR, 'sim-kubeconfig-drift');

/** A copy of the simulator scenario in a temp folder, changed by `mutate`. */
function brokenCopy(mutate: (dir: string) => void): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'lint-')), 'sim-kubeconfig-drift');
  cpSync(SIM, dir, { recursive: true });
  mutate(dir);
  return dir;
}

function editYaml(dir: string, edit: (spec: Record<string, unknown>) => void): void {
  const file = join(dir, 'scenario.yaml');
  const spec = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(spec);
  writeFileSync(file, stringify(spec));
}

describe('the catalog', () => {
  test('lints clean: schema, files, shellcheck, versions and topology', { timeout: 30_000 }, async () => {
    assert.deepEqual(await lintCatalog(DEFAULT_CATALOG_DIR), []);
  });

  test('has at least 15 real-cluster scenarios, each with two hints and its three scripts', { timeout: 30_000 }, () => {
    const catalog = loadCatalog();
    const real = [...catalog.values()].filter((s) => !s.simulator);
    assert.ok(real.length >= 15, `only ${real.length} real-cluster scenarios`);
    for (const scenario of catalog.values()) {
      assert.ok(scenario.hints.length >= 2, scenario.id);
      for (const phase of ['break', 'check', 'solve'] as const) assert.ok(scenario.scripts[phase].length > 0);
    }
    const areas = new Set(real.flatMap((s) => s.tags));
    for (const area of [
      'node-os',
      'kubelet',
      'container-runtime',
      'cni',
      'dns',
      'control-plane',
      'etcd',
      'certificates',
      'kubeconfig',
      'scheduling',
      'workloads',
    ])
      assert.ok(areas.has(area), `no scenario tagged ${area}`);
  });

  test('every real-cluster scenario has a decoy, on a node its topology has, and runs on flannel', {
    timeout: 30_000,
  }, () => {
    for (const scenario of loadCatalog().values()) {
      if (scenario.simulator) continue;
      assert.ok(scenario.decoys.length > 0, `${scenario.id} has no decoy`);
      for (const decoy of scenario.decoys) assert.equal(decoy.phase, 'decoy');
      assert.equal(scenario.cni, 'flannel', `${scenario.id}: the golden image carries flannel only`);
    }
  });

  test('marks simulator scenarios, whose scripts are plain sh for busybox', { timeout: 30_000 }, () => {
    const scenario = loadScenario(SIM);
    assert.equal(scenario.simulator, true);
    assert.deepEqual(
      scenario.scripts.break.map((s) => [s.file, s.on]),
      [['break.sh', 'control-plane']],
    );
  });
});

describe('lint names the file and field of what is wrong', () => {
  const cases: [string, (dir: string) => void, (dir: string) => Problem][] = [
    [
      'a missing script',
      (dir) => rmSync(join(dir, 'solve.sh')),
      (dir) => ({
        file: join(dir, 'scenario.yaml'),
        field: 'scripts.solve',
        message: `refers to solve.sh, which does not exist in ${dir}`,
      }),
    ],
    [
      'bad YAML',
      (dir) => writeFileSync(join(dir, 'scenario.yaml'), 'id: x\ntitle: [unclosed\n'),
      (dir) => ({
        file: join(dir, 'scenario.yaml'),
        field: 'line 3',
        message: 'invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
      }),
    ],
    [
      'an unsupported Kubernetes version',
      (dir) =>
        editYaml(dir, (spec) => {
          spec.kubernetesVersions = ['1.36', '1.20'];
        }),
      (dir) => ({
        file: join(dir, 'scenario.yaml'),
        field: 'kubernetesVersions.1',
        message: 'is not a supported Kubernetes version; supported: 1.34, 1.35, 1.36',
      }),
    ],
    [
      'a script on a worker the topology does not have',
      (dir) =>
        editYaml(dir, (spec) => {
          spec.scripts = { check: [{ run: 'check.sh', on: 'w2' }] };
        }),
      (dir) => ({
        file: join(dir, 'scenario.yaml'),
        field: 'scripts.check.0.on',
        message: 'runs on w2 but topology.workers is 0',
      }),
    ],
    [
      'a shellcheck error',
      (dir) => writeFileSync(join(dir, 'break.sh'), '#!/bin/sh\nmkdir -p $BREAKFIX_DIR\n'),
      (dir) => ({
        file: join(dir, 'break.sh'),
        field: 'line 2',
        message: 'SC2086 (info): Double quote to prevent globbing and word splitting.',
      }),
    ],
    [
      'bash in a simulator scenario',
      (dir) => writeFileSync(join(dir, 'solve.sh'), '#!/bin/bash\ntrue\n'),
      (dir) => ({
        file: join(dir, 'solve.sh'),
        field: 'line 1',
        message: 'a simulator scenario runs in a busybox guest: use #!/bin/sh, there is no bash there',
      }),
    ],
    [
      'an id that is not its folder name',
      (dir) =>
        editYaml(dir, (spec) => {
          spec.id = 'another-name';
        }),
      (dir) => ({
        file: join(dir, 'scenario.yaml'),
        field: 'id',
        message: 'is "another-name" but the folder is "sim-kubeconfig-drift"; rename one',
      }),
    ],
    [
      'a single hint',
      (dir) =>
        editYaml(dir, (spec) => {
          spec.hints = ['only one'];
        }),
      (dir) => ({
        file: join(dir, 'scenario.yaml'),
        field: 'hints',
        message: 'needs at least two hints, from a nudge to the answer',
      }),
    ],
  ];
  for (const [what, mutate, expected] of cases) {
    test(what, { timeout: 30_000 }, async () => {
      // Given a good scenario with one thing broken, when linted, then exactly that is reported
      const dir = brokenCopy(mutate);
      assert.deepEqual(await lintScenario(dir), [expected(dir)]);
    });
  }

  test('a real-cluster scenario without decoys, and a decoy on a worker the topology lacks', {
    timeout: 30_000,
  }, async () => {
    // Given the real-cluster fixture without its decoy, when linted, then the missing decoy is named
    const bare = join(mkdtempSync(join(tmpdir(), 'lint-')), 'unknown-node');
    cpSync(REAL, bare, { recursive: true });
    writeFileSync(join(bare, 'check.sh'), readFileSync(join(FIXTURES, 'lint/undefined-function/check.sh')));
    editYaml(bare, (spec) => {
      spec.decoys = [];
    });
    assert.deepEqual(await lintScenario(bare), [
      {
        file: join(bare, 'scenario.yaml'),
        field: 'decoys',
        message:
          'needs at least one decoy: a script applying a plausible wrong fix (delete the broken pod, cordon the ' +
          'node, restart a service without fixing its config) that the check must not accept',
      },
    ]);
    // And a decoy aimed at w2 of a one-worker lab is refused like any script
    editYaml(bare, (spec) => {
      spec.decoys = [{ run: 'decoy.sh', on: 'w2' }];
    });
    assert.deepEqual(await lintScenario(bare), [
      { file: join(bare, 'scenario.yaml'), field: 'decoys.0.on', message: 'runs on w2 but topology.workers is 1' },
    ]);
  });

  test('a scenario that needs a node kernel of its own (swap, sysctls, NetworkPolicy) must say nodes: vm', {
    timeout: 30_000,
  }, async () => {
    // Given node-swap-enabled without `nodes: vm`, when linted, then its swapon and mkswap lines are named
    const dir = join(mkdtempSync(join(tmpdir(), 'lint-')), 'node-swap-enabled');
    cpSync(join(DEFAULT_CATALOG_DIR, 'node-swap-enabled'), dir, { recursive: true });
    assert.equal(loadScenario(dir).nodes, 'vm');
    assert.deepEqual(await lintScenario(dir), []);
    editYaml(dir, (spec) => {
      delete spec.nodes;
    });
    const problems = await lintScenario(dir);
    const script = readFileSync(join(dir, 'break.sh'), 'utf8').split('\n');
    const lines = (word: string) =>
      script.flatMap((line, index) => (new RegExp(`\\b${word}\\b`).test(line.replace(/#.*/, '')) ? [index + 1] : []));
    const expected = [...lines('mkswap'), ...lines('swapon')].sort((a, b) => a - b);
    assert.ok(expected.length >= 2, 'break.sh makes a swap file and turns it on');
    assert.deepEqual(
      problems.filter((p) => p.file === join(dir, 'break.sh')).map((p) => p.field),
      expected.map((line) => `line ${line}`),
    );
    assert.match(
      problems.find((p) => p.field === `line ${lines('swapon')[0]}`)?.message ?? '',
      /swap is the node's kernel's, and a container node shares the host's: declare `nodes: vm` in scenario\.yaml/,
    );
    // And a network sysctl, which belongs to the node's own network namespace, is not one
    writeFileSync(join(dir, 'break.sh'), '#!/bin/bash\nsysctl -w net.ipv4.ip_forward=0\n# swapon in a comment\n');
    assert.deepEqual(
      (await lintScenario(dir)).filter((p) => p.file === join(dir, 'break.sh')),
      [],
    );
    writeFileSync(join(dir, 'break.sh'), '#!/bin/bash\nsysctl -w vm.swappiness=100\n');
    assert.deepEqual(
      (await lintScenario(dir)).filter((p) => p.file === join(dir, 'break.sh')).map((p) => p.field),
      ['line 2'],
    );
    // NetworkPolicy is enforced by the node's kernel too
    writeFileSync(
      join(dir, 'break.sh'),
      "#!/bin/bash\nkubectl apply -f - <<'YAML'\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nYAML\n",
    );
    const policy = (await lintScenario(dir)).filter((p) => p.file === join(dir, 'break.sh'));
    assert.deepEqual(
      policy.map((p) => p.field),
      ['line 4'],
    );
    assert.match(policy[0]?.message ?? '', /NetworkPolicy is enforced by the node's kernel/);
  });

  test('loadScenario refuses the same problems with InvalidInputError', { timeout: 30_000 }, () => {
    const dir = brokenCopy((d) => rmSync(join(d, 'check.sh')));
    assert.throws(
      () => loadScenario(dir),
      (error: unknown) => {
        assert.ok(error instanceof InvalidInputError);
        assert.match(error.message, /scenario\.yaml: scripts\.check: refers to check\.sh, which does not exist/);
        return true;
      },
    );
  });
});

describe('scaffold and importers produce scenarios that lint clean', () => {
  test('a new real-cluster scenario and a new simulator scenario', { timeout: 30_000 }, async () => {
    const catalog = mkdtempSync(join(tmpdir(), 'catalog-'));
    assert.deepEqual(await lintScenario(scaffoldScenario(catalog, 'my-first-break')), []);
    assert.deepEqual(await lintScenario(scaffoldScenario(catalog, 'my-sim-break', { simulator: true })), []);
    assert.throws(() => scaffoldScenario(catalog, 'my-first-break'), /already exists/);
  });

  test('Killercoda: background -> break, verify -> check with feedback, steps -> brief, details -> hints', {
    timeout: 30_000,
  }, async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'kc-')), 'kubelet-down');
    const { dir, warnings } = importKillercoda(join(FIXTURES, 'killercoda/kubelet-down'), out);
    assert.deepEqual(await lintScenario(dir), []);
    const scenario = loadScenario(dir);
    assert.equal(scenario.title, 'Kubelet down on node01');
    assert.equal(scenario.topology.workers, 1);
    assert.match(scenario.brief, /## Bring node01 back/);
    assert.doesNotMatch(scenario.brief, /<details>/);
    assert.equal(scenario.hints.length, 3);
    assert.match(scenario.hints[0] ?? '', /^Hint 1: Which component/);
    // What Killercoda sent to node01 over ssh runs on w1 itself, in the source's order: nothing on
    // a breakfix control plane holds a key to the worker.
    assert.deepEqual(
      scenario.scripts.break.map((s) => [s.file, s.on]),
      [
        ['break-intro-1-w1.sh', 'w1'],
        ['break-intro-2.sh', 'control-plane'],
      ],
    );
    assert.match(scenario.scripts.break[0]?.content ?? '', /\nsystemctl stop kubelet && systemctl disable kubelet\n/);
    assert.deepEqual(
      scenario.scripts.check.map((s) => [s.file, s.on]),
      [
        ['check-step1-1.sh', 'control-plane'],
        ['check-step1-2-w1.sh', 'w1'],
      ],
    );
    // Killercoda's node01 is the lab's w1, and the check's kubectl gives up on a hung API server
    for (const check of scenario.scripts.check)
      assert.match(check.content, /echo "Step 1 \(Bring w1 back\) is not done yet\."/);
    assert.match(scenario.scripts.check[0]?.content ?? '', /kubectl get node w1 /);
    assert.match(
      scenario.scripts.check[0]?.content ?? '',
      /kubectl\(\) \{ command kubectl --request-timeout=10s "\$@"; \}/,
    );
    assert.match(scenario.scripts.check[1]?.content ?? '', /\nsystemctl is-enabled kubelet\n/);
    assert.deepEqual(
      scenario.scripts.solve.map((s) => [s.file, s.on]),
      [['solve-w1.sh', 'w1']],
    );
    assert.match(scenario.scripts.solve[0]?.content ?? '', /\nsystemctl enable --now kubelet\n/);
    // Killercoda's solution stops once typed; the import waits, while the solve's deadline lasts,
    // until w1 is Ready before the check
    assert.match(
      scenario.scripts.solve[0]?.content ?? '',
      /\ndeadline=\$\(\(\$\{BREAKFIX_TIMEOUT_SECONDS:-180\} - 10\)\)\n[\s\S]*enable --now kubelet\n# Added on import: wait \(while the deadline lasts\)[\s\S]*while \(\(SECONDS < deadline\)\)[\s\S]*get node "\$\(hostname\)"[\s\S]*== True \]\] && break\n/,
    );
    for (const script of [...scenario.scripts.break, ...scenario.scripts.check, ...scenario.scripts.solve])
      assert.doesNotMatch(script.content, /\bssh\b/, script.file);
    assert.deepEqual(warnings, [NO_DECOY_WARNING]);
  });

  test('Killercoda, single node: controlplane is cp, hints read as Slack shows them', { timeout: 30_000 }, async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'kc-')), 'controlplane-kubelet-disabled');
    const { dir, warnings } = importKillercoda(join(FIXTURES, 'killercoda/controlplane-kubelet-disabled'), out);
    assert.deepEqual(warnings, [NO_DECOY_WARNING]);
    assert.deepEqual(await lintScenario(dir), []);
    const scenario = loadScenario(dir);
    assert.equal(scenario.topology.workers, 0);
    assert.deepEqual(
      [...scenario.scripts.break, ...scenario.scripts.check, ...scenario.scripts.solve].map((s) => s.on),
      ['control-plane', 'control-plane', 'control-plane'],
    );
    assert.match(scenario.scripts.check[0]?.content ?? '', /kubectl get node cp /);
    // A paragraph soft-wrapped in the source is one line; the solution's fence starts a line and
    // loses Killercoda's click-to-run marker.
    assert.equal(
      scenario.hints[0],
      "Hint 1: The API server still answers, so the control plane's containers run. Which component reports the node's status, and is it running?",
    );
    assert.equal(scenario.hints[2], 'Solution:\n```bash\nsystemctl enable --now kubelet\n```');
  });

  test('Instruqt: setup/check/solve per host become scripts on cp and w1; fail-message becomes feedback', {
    timeout: 30_000,
  }, async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'iq-')), 'worker-notready');
    const { dir, warnings } = importInstruqt(join(FIXTURES, 'instruqt/worker-notready'), out);
    assert.deepEqual(warnings, [NO_DECOY_WARNING]);
    assert.deepEqual(await lintScenario(dir), []);
    const scenario = loadScenario(dir);
    assert.equal(scenario.difficulty, 'beginner');
    assert.equal(scenario.timeLimitMinutes, 15);
    assert.equal(scenario.topology.workers, 1);
    assert.deepEqual(
      scenario.scripts.break.map((s) => [s.file, s.on]),
      [
        ['break-track-cp.sh', 'cp'],
        ['break-c01-w1.sh', 'w1'],
      ],
    );
    assert.deepEqual(
      scenario.scripts.check.map((s) => [s.file, s.on]),
      [
        ['check-c01-cp.sh', 'cp'],
        ['check-c01-w1.sh', 'w1'],
      ],
    );
    assert.match(scenario.scripts.check[1]?.content ?? '', /fail-message\(\) \{\n {2}echo "\$\*"\n {2}exit 1\n\}/);
    // Solves wait for their node to be Ready; breaks and checks do not
    for (const solve of scenario.scripts.solve) assert.match(solve.content, /# Added on import: wait/, solve.file);
    for (const script of [...scenario.scripts.break, ...scenario.scripts.check])
      assert.doesNotMatch(script.content, /# Added on import: wait/, script.file);
    // The track's setup waited a fixed 120 s; imported, it waits for what is left of its deadline
    const setup = scenario.scripts.break[0]?.content ?? '';
    assert.match(setup, /\nkubectl wait --for=condition=Ready node --all --timeout="\$\(left\)"\n/);
    assert.match(setup, /\nleft\(\) \{ echo "\$\(\(deadline - SECONDS > 1 \? deadline - SECONDS : 1\)\)s"; \}\n/);
    assert.doesNotMatch(
      scenario.scripts.break[1]?.content ?? '',
      /deadline/,
      'a break that does not wait needs no deadline',
    );
    assert.deepEqual(scenario.hints, [
      'Where to look: The kubelet talks to the container runtime over a socket. Is the runtime up on `worker`?',
      'Answer: Run `systemctl enable --now containerd` on `worker`.',
    ]);
  });
});
