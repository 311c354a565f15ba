import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lintScenario, type Problem } from '../src/index.js';

const LINT_FIXTURES = fileURLToPath(new URL('./fixtures/lint/', import.meta.url));
const TIMEOUT = { timeout: 30_000 };

const undefinedCall = (name: string) =>
  `calls ${name}, which is neither a function defined in this script nor a command of the node image: ` +
  'the runner uploads each script alone and sources no helpers, so define it here ' +
  '(or, if the image has this program, add it to packages/scenarios/src/node-commands.ts)';
const NO_TIMEOUT =
  'kubectl without --request-timeout: a hung API server would hold this check until the runner kills it, ' +
  'and the learner would get no feedback; add --request-timeout=5s';
const earlyExit = (name: string, whole: string) =>
  `${name} reads a pipe and may stop before its input ends: under set -o pipefail the command before it ` +
  'can die of SIGPIPE (exit 141) and fail the pipeline although the output was there; ' +
  `read the whole output instead (${whole})`;
const GREP_EARLY = earlyExit('grep', 'grep -q PATTERN <<<"$(cmd)"');
const fixedWait = (what: string) =>
  `waits a fixed time (${what}): the runner gives this script a deadline, 2 or 3 minutes on a learner's lab ` +
  'and several times that on an emulated one, and a fixed wait is either cut off by it or runs out first on ' +
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash, not a template
  'a slow lab; take the time from it: deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10)), then ' +
  '--timeout="$(left)" or ((SECONDS < deadline)) (instructor guide, "Waits")';
const unknownNode = (name: string) =>
  `names node ${name}, but this scenario's labs have only cp, w1 (topology.workers: 1)`;

describe('deliberately broken fixtures: each rule names the file and line', () => {
  const cases: [string, (dir: string) => Problem][] = [
    [
      'undefined-function',
      (dir) => ({ file: join(dir, 'break.sh'), field: 'line 12', message: undefinedCall('pause_image') }),
    ],
    ['check-kubectl-timeout', (dir) => ({ file: join(dir, 'check.sh'), field: 'line 5', message: NO_TIMEOUT })],
    ['unknown-node', (dir) => ({ file: join(dir, 'check.sh'), field: 'line 4', message: unknownNode('w2') })],
    [
      'fixed-wait',
      (dir) => ({ file: join(dir, 'solve.sh'), field: 'line 6', message: fixedWait('kubectl --timeout=90s') }),
    ],
  ];
  for (const [fixture, expected] of cases) {
    test(fixture, TIMEOUT, async () => {
      // Given a scenario whose only defect is the one its name says, when linted, then exactly that
      const dir = join(LINT_FIXTURES, fixture);
      assert.deepEqual(await lintScenario(dir), [expected(dir)]);
    });
  }
});

/** A copy of the unknown-node fixture (one worker) with its check.sh fixed and `files` written over it. */
function variant(files: Record<string, string>): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'rules-')), 'unknown-node');
  cpSync(join(LINT_FIXTURES, 'unknown-node'), dir, { recursive: true });
  writeFileSync(join(dir, 'check.sh'), readFileSync(join(LINT_FIXTURES, 'undefined-function', 'check.sh')));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content, { mode: 0o755 });
  return dir;
}

const HEAD = '#!/bin/bash\nset -euo pipefail\nexport KUBECONFIG=/etc/kubernetes/admin.conf\n';

describe('the rules see what the shell would run', () => {
  const cases: [string, Record<string, string>, (dir: string) => Problem[]][] = [
    [
      'a function defined in the script is not a problem; called inside bash -c it is (a new shell)',
      {
        'break.sh': `${HEAD}ready() { kubectl get --raw=/readyz >/dev/null 2>&1; }\nready || true\nt=60; timeout "$t" bash -c "until ready; do sleep 2; done"\n`,
      },
      (dir) => [{ file: join(dir, 'break.sh'), field: 'line 6', message: undefinedCall('ready') }],
    ],
    [
      'a command run through xargs is a call too',
      { 'solve.sh': `${HEAD}echo kubelet | xargs -r restart_unit\n` },
      (dir) => [{ file: join(dir, 'solve.sh'), field: 'line 4', message: undefinedCall('restart_unit') }],
    ],
    [
      'kubectl in $(...) and in a pipeline of a check, but not a kubectl function that sets the timeout',
      {
        'check.sh': `${HEAD}n=$(kubectl get pods -o name | wc -l)\nkubectl() { command kubectl --request-timeout=5s "$@"; }\nkubectl get nodes >/dev/null\necho "$n"\nexit 1\n`,
      },
      (dir) => [{ file: join(dir, 'check.sh'), field: 'line 4', message: NO_TIMEOUT }],
    ],
    [
      'kubectl without a request timeout in a solve script is allowed: the solve waits on purpose',
      { 'solve.sh': `${HEAD}t=150s; kubectl wait --for=condition=Ready node/w1 --timeout="$t"\n` },
      () => [],
    ],
    [
      "another platform's node names where kubectl and ssh expect a node",
      {
        'solve.sh': `${HEAD}kubectl uncordon node01\nkubectl -n kube-system logs kube-scheduler-controlplane\nssh root@worker true\nkubectl get pods --field-selector spec.nodeName=w3\n`,
      },
      (dir) => [
        { file: join(dir, 'solve.sh'), field: 'line 4', message: unknownNode('node01') },
        { file: join(dir, 'solve.sh'), field: 'line 5', message: unknownNode('controlplane') },
        { file: join(dir, 'solve.sh'), field: 'line 6', message: unknownNode('worker') },
        { file: join(dir, 'solve.sh'), field: 'line 7', message: unknownNode('w3') },
      ],
    ],
    [
      'a worker the topology lacks, in YAML sent to kubectl, but not in a comment',
      {
        'break.sh': `${HEAD}# on a bigger lab this would go to w2\nkubectl apply -f - <<YAML\nspec: {nodeSelector: {kubernetes.io/hostname: w2}}\nYAML\n`,
      },
      (dir) => [{ file: join(dir, 'break.sh'), field: 'line 6', message: unknownNode('w2') }],
    ],
    [
      'under pipefail, grep -q, grep -m and head reading a pipe (also mid-pipeline and in a set -o pipefail bash -c)',
      {
        'break.sh':
          `${HEAD}if nft list ruleset | grep -q 10250; then exit 0; fi\n` +
          `! crictl ps -q | grep -qx abc || true\nx=$(ip route | grep -m1 default)\n` +
          `y=$(grep -o -- '--a=[^ ]*' /etc/f | head -n 1 | cut -d= -f2)\n` +
          `timeout "$x" bash -c 'set -o pipefail; until journalctl | grep --quiet up; do sleep 1; done'\necho "$x$y"\n`,
      },
      (dir) => [
        { file: join(dir, 'break.sh'), field: 'line 4', message: GREP_EARLY },
        { file: join(dir, 'break.sh'), field: 'line 5', message: GREP_EARLY },
        { file: join(dir, 'break.sh'), field: 'line 6', message: GREP_EARLY },
        { file: join(dir, 'break.sh'), field: 'line 7', message: earlyExit('head', 'sed -n 1p instead of head -n 1') },
        { file: join(dir, 'break.sh'), field: 'line 8', message: GREP_EARLY },
      ],
    ],
    [
      'grep that reads all its input, a here-string, or a shell without pipefail is not a problem',
      {
        'break.sh':
          `${HEAD}grep -q 10250 <<<"$(nft list ruleset)"\nn=$(crictl ps -q | grep -c abc || true)\n` +
          `v=$(grep -e -q /etc/f | sed -n 1p)\ntimeout "$v" bash -c 'until journalctl | grep -q up; do sleep 1; done'\n` +
          `echo "$n$v"\n`,
        'solve.sh': '#!/bin/bash\nset -eu\nip route | grep -q default || exit 1\nip link | head -n 1\n',
      },
      () => [],
    ],
    [
      'waits of a fixed length in breaks, decoys and solves: kubectl --timeout, timeout N around a loop, SECONDS against a number',
      {
        'break.sh':
          `${HEAD}kubectl rollout status deploy/web --timeout=90s\nkubectl wait --for=delete pod/a --timeout 2m\n` +
          `timeout 120 bash -c 'until kubectl get --raw=/readyz; do sleep 3; done'\ndeadline=$((SECONDS + 300))\n` +
          `while ((SECONDS < 100)); do sleep 1; done\ntimeout 5 crictl ps >/dev/null\necho "$deadline"\n`,
        'decoy.sh': `${HEAD}kubectl -n kube-system delete pod -l k8s-app=kube-proxy --wait=true --timeout=60s\n`,
      },
      (dir) => [
        { file: join(dir, 'break.sh'), field: 'line 4', message: fixedWait('kubectl --timeout=90s') },
        { file: join(dir, 'break.sh'), field: 'line 5', message: fixedWait('kubectl --timeout=2m') },
        { file: join(dir, 'break.sh'), field: 'line 6', message: fixedWait('timeout 120 bash -c') },
        { file: join(dir, 'break.sh'), field: 'line 7', message: fixedWait('SECONDS + 300') },
        { file: join(dir, 'break.sh'), field: 'line 8', message: fixedWait('SECONDS < 100') },
        { file: join(dir, 'decoy.sh'), field: 'line 4', message: fixedWait('kubectl --timeout=60s') },
      ],
    ],
    [
      'waits timed from the deadline, a bound on one command, and a check (checks do not wait) are not a problem',
      {
        'solve.sh':
          `${HEAD}deadline=$((\${BREAKFIX_TIMEOUT_SECONDS:-180} - 10))\n` +
          'left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }\n' +
          'kubectl rollout status deploy/web --timeout="$(left)"\n' +
          `timeout "$(left)" bash -c 'until kubectl get --raw=/readyz; do sleep 3; done'\n` +
          'while ((SECONDS < deadline)); do sleep 1; done\ntimeout 5 crictl ps >/dev/null\n',
        'check.sh':
          `${HEAD}timeout 20 bash -c 'until kubectl --request-timeout=5s get ns >/dev/null; do sleep 1; done'\n` +
          'kubectl --request-timeout=5s wait --for=condition=Ready node/w1 --timeout=5s || exit 1\n',
      },
      () => [],
    ],
    [
      'a worker the topology lacks in the brief',
      {
        'scenario.yaml': readFileSync(join(LINT_FIXTURES, 'unknown-node', 'scenario.yaml'), 'utf8').replace(
          'Worker `w1` is NotReady.',
          'Workers `w1` and `w4` are NotReady.',
        ),
      },
      (dir) => [{ file: join(dir, 'scenario.yaml'), field: 'brief', message: unknownNode('w4') }],
    ],
  ];
  for (const [what, files, expected] of cases) {
    test(what, TIMEOUT, async () => {
      const dir = variant(files);
      assert.equal(basename(dir), 'unknown-node');
      assert.deepEqual(await lintScenario(dir), expected(dir));
    });
  }
});
