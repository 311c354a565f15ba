import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { createKube, type KubeObject } from '@breakfix/kube';
import { type VmiStatus, vmiAddress } from '@breakfix/manifests';
import { createSshRunner } from '@breakfix/ssh';
import { uniqueName, useSandbox } from '@breakfix/testkit';
import { stringify } from 'yaml';
import { cloudInitSecret, keyPair, namespace, userData, virtualMachine } from '../../sandbox/test/fixtures.js';
import {
  createScenarioRunner,
  DEFAULT_CATALOG_DIR,
  LabNeedsAttentionError,
  type LabTargets,
  loadScenario,
  ScenarioScriptError,
  ScenarioScriptTimeoutError,
  selfTest,
} from '../src/index.js';

const ssh = createSshRunner({ connectTimeoutMs: 5_000, keepaliveIntervalMs: 1_000, keepaliveCountMax: 2 });
const runner = createScenarioRunner({
  ssh,
  stateDir: '/tmp/breakfix-scenario-state',
  breakTimeoutMs: 1_500,
  checkTimeoutMs: 5_000,
  maxOutputBytes: 4_096,
});
let lab: LabTargets;
let ns: string;
const kube = async () => createKube({ kubeconfig: (await useSandbox()).info.kubeconfig });

before(async () => {
  // Given a lab of two simulated nodes, cp and w1, that trust the operator key and pin host keys
  const k = await kube();
  ns = uniqueName('scn');
  const operator = keyPair('operator');
  await k.apply(namespace(ns));
  const nodes: LabTargets['nodes'] = {};
  for (const name of ['cp', 'w1']) {
    const hostKey = keyPair(name);
    await k.apply(cloudInitSecret(ns, `${name}-ci`, userData({ hostKey, users: { breakfix: [operator.public] } })));
    await k.apply(virtualMachine(ns, name, { secret: `${name}-ci` }));
    nodes[name] = { host: '', username: 'breakfix', privateKey: operator.private, hostKey: hostKey.public };
  }
  for (const name of Object.keys(nodes)) {
    const address = await waitFor(
      async () => {
        const vmi = await k.get<KubeObject & { status?: VmiStatus }>({
          apiVersion: 'kubevirt.io/v1',
          kind: 'VirtualMachineInstance',
          namespace: ns,
          name,
        });
        return vmi?.status?.phase === 'Running' ? vmiAddress(vmi) : undefined;
      },
      { what: `VM ${name} to run`, timeoutMs: 30_000 },
    );
    const node = nodes[name];
    if (node !== undefined) node.host = address;
  }
  lab = { labId: ns, nodes };
});

after(async () => {
  await (await kube()).delete({ apiVersion: 'v1', kind: 'Namespace', name: ns });
});

/** A throwaway scenario folder for the runner's edge cases. */
function fixture(
  id: string,
  files: Record<string, string>,
  scripts?: Record<string, { run: string; on: string }[]>,
  decoys?: { run: string; on: string }[],
  simulator = true,
) {
  const dir = join(mkdtempSync(join(tmpdir(), 'scenario-')), id);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'scenario.yaml'),
    stringify({
      id,
      title: `Runner fixture ${id}`,
      brief: 'A fixture for the runner tests, never shown to a learner.',
      difficulty: 'beginner',
      tags: simulator ? ['simulator'] : ['fixture'],
      kubernetesVersions: ['1.36'],
      topology: { workers: 1 },
      timeLimitMinutes: 10,
      simulator,
      ...(simulator ? {} : { decoys: [{ run: 'check.sh', on: 'control-plane' }] }),
      hints: ['one', 'two'],
      ...(scripts === undefined ? {} : { scripts }),
      ...(decoys === undefined ? {} : { decoys }),
    }),
  );
  const defaults = {
    'break.sh': '#!/bin/sh\ntrue\n',
    'check.sh': '#!/bin/sh\ntrue\n',
    'solve.sh': '#!/bin/sh\ntrue\n',
  };
  for (const [name, content] of Object.entries({ ...defaults, ...files }))
    writeFileSync(join(dir, name), content, { mode: 0o755 });
  return loadScenario(dir);
}

describe('scenario runner over real SSH', () => {
  test('the simulator scenario of the catalog: break, break again, check fails with feedback, solve, check passes', async () => {
    const scenario = loadScenario(join(DEFAULT_CATALOG_DIR, 'sim-kubeconfig-drift'));
    const seen: string[] = [];
    const report = await selfTest(runner, scenario, lab, (step) => seen.push(`${step.name}: ${step.ok}`));
    assert.deepEqual(seen, [
      'break: true',
      'break again: true',
      'check fails: true',
      'decoy: true',
      'solve: true',
      'check passes: true',
    ]);
    assert.equal(report.ok, true);
    assert.deepEqual(report.steps[2]?.detail, [
      'The kubeconfig still points at https://cp-api:6444; the API server listens on port 6443.',
      '/tmp/breakfix-sim/kubeconfig has mode 644: anyone on the node can read its credentials (want 600).',
    ]);
  });

  test('a check that passes after a decoy fails the self-test, naming the decoy', { timeout: 60_000 }, async () => {
    // Given a scenario with two decoys: one that changes nothing that matters, one that is a real fix
    const state = '/tmp/breakfix-decoy-fixture';
    const scenario = fixture(
      'decoy-fixture',
      {
        'break.sh': `#!/bin/sh\nmkdir -p ${state} && rm -f ${state}/fixed\n`,
        'check.sh': `#!/bin/sh\n[ -f ${state}/fixed ] || { echo "${state}/fixed is missing."; exit 1; }\n`,
        'solve.sh': `#!/bin/sh\ntouch ${state}/fixed\n`,
        'decoy-touch-other.sh': `#!/bin/sh\ntouch ${state}/other\n`,
        'decoy-really-fixes.sh': `#!/bin/sh\ntouch ${state}/fixed\n`,
      },
      undefined,
      [
        { run: 'decoy-touch-other.sh', on: 'cp' },
        { run: 'decoy-really-fixes.sh', on: 'control-plane' },
      ],
    );
    // When it is self-tested
    const report = await selfTest(runner, scenario, lab);
    // Then the first decoy holds, the second is named as accepted by the check, and nothing is solved
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.steps.map((step) => `${step.name}: ${step.ok}`),
      ['break: true', 'break again: true', 'check fails: true', 'decoy: true', 'decoy: false'],
    );
    assert.deepEqual(report.steps[3]?.detail, [
      'decoy-touch-other.sh on cp: exit 0',
      `still failing: ${state}/fixed is missing.`,
    ]);
    assert.deepEqual(report.steps[4]?.detail, [
      'check passed after decoy decoy-really-fixes.sh: it cannot tell this wrong fix from a real one',
      'decoy-really-fixes.sh on cp: exit 0',
    ]);
  });

  test('a lab still settling after the solve passes on a later check, and the report says so', {
    timeout: 60_000,
  }, async () => {
    // Given a fix that takes effect 3 s after the solve, like a static pod restarting
    const state = '/tmp/breakfix-settle-fixture';
    const scenario = fixture('settle-fixture', {
      'break.sh': `#!/bin/sh\nmkdir -p ${state} && echo 9999999999 > ${state}/ready-at\n`,
      'check.sh': `#!/bin/sh\n[ "$(date +%s)" -ge "$(cat ${state}/ready-at)" ] || { echo "not settled yet"; exit 1; }\n`,
      'solve.sh': `#!/bin/sh\necho $(( $(date +%s) + 3 )) > ${state}/ready-at\n`,
    });
    // When it is self-tested with a settle window
    const report = await selfTest(runner, scenario, lab, () => {}, { settleMs: 30_000, settleIntervalMs: 1_000 });
    // Then the check passed on a later attempt, and the report counts them
    assert.equal(report.ok, true);
    const last = report.steps.at(-1);
    assert.equal(last?.name, 'check passes');
    const [line] = last?.detail ?? [];
    const attempts = Number(/^solved \((\d+) checks over \d+ s\)$/.exec(line ?? '')?.[1]);
    assert.ok(attempts >= 2 && attempts <= 10, `detail: ${line}`);
  });

  test('a check still failing when the settle window closes fails the self-test with its feedback', {
    timeout: 60_000,
  }, async () => {
    // Given a solve that fixes nothing
    const state = '/tmp/breakfix-unsettled-fixture';
    const scenario = fixture('unsettled-fixture', {
      'break.sh': `#!/bin/sh\nmkdir -p ${state} && rm -f ${state}/fixed\n`,
      'check.sh': `#!/bin/sh\n[ -f ${state}/fixed ] || { echo "${state}/fixed is missing."; exit 1; }\n`,
    });
    // When it is self-tested with a 3 s window, checking every second
    const report = await selfTest(runner, scenario, lab, () => {}, { settleMs: 3_000, settleIntervalMs: 1_000 });
    // Then it fails after the checks that fit in the window, with the last check's feedback
    assert.equal(report.ok, false);
    const last = report.steps.at(-1);
    assert.equal(last?.name, 'check passes');
    assert.match(last?.detail[0] ?? '', /^check still fails after solve \([23] checks over \d+ s\):$/);
    assert.deepEqual(last?.detail.slice(1), [`${state}/fixed is missing.`]);
  });

  test("a decoy that fails to apply is the scenario's error, named like a break", { timeout: 30_000 }, async () => {
    const scenario = fixture(
      'decoy-error-fixture',
      { 'decoy.sh': '#!/bin/sh\necho "no such unit" >&2\nexit 3\n' },
      undefined,
      [{ run: 'decoy.sh', on: 'w1' }],
    );
    const [decoy] = scenario.decoys;
    assert.ok(decoy);
    await assert.rejects(runner.applyDecoy(scenario, decoy, lab), (error: unknown) => {
      assert.ok(error instanceof ScenarioScriptError);
      assert.equal(error.message, 'decoy-error-fixture/decoy.sh (decoy on w1) exited 3: no such unit');
      return true;
    });
  });

  test('scripts run where they are told, with the lab and node names and their own deadline in their environment', async () => {
    const scenario = fixture(
      'env-fixture',
      {
        'check.sh':
          '#!/bin/sh\necho "$BREAKFIX_LAB_ID $BREAKFIX_SCENARIO $BREAKFIX_NODE [$BREAKFIX_NODES] [$BREAKFIX_WORKERS] $BREAKFIX_TIMEOUT_SECONDS"\nexit 1\n',
        'break.sh': '#!/bin/sh\necho "break has $BREAKFIX_TIMEOUT_SECONDS s" >&2\n',
      },
      { check: [{ run: 'check.sh', on: 'all' }] },
    );
    const result = await runner.check(scenario, lab);
    assert.equal(result.solved, false);
    // The check's deadline here is 5 s (checkTimeoutMs above), the break's 1.5 s: whole seconds, rounded down
    assert.deepEqual(result.feedback, [`${ns} env-fixture cp [cp w1] [w1] 5`, `${ns} env-fixture w1 [cp w1] [w1] 5`]);
    const broken = await runner.applyBreak(scenario, lab, { force: true });
    assert.deepEqual(
      broken.map((step) => step.stderr.trim()),
      ['break has 1 s'],
    );
  });

  test('a check that fails silently still tells the learner something', async () => {
    const scenario = fixture('silent-fixture', { 'check.sh': '#!/bin/sh\nexit 1\n' });
    const result = await runner.check(scenario, lab);
    assert.deepEqual(result, {
      ...result,
      solved: false,
      feedback: ['Not solved yet (the check on cp found a problem but did not say which).'],
    });
  });

  test('a failing check on a cluster says when the API server did not answer; a passing one does not', async () => {
    // Given a real-cluster scenario on a node where nothing answers on the API server's port
    const failing = fixture(
      'api-down-fixture',
      { 'check.sh': '#!/bin/sh\necho "web has 0 of 2 pods available."\nexit 1\n' },
      undefined,
      undefined,
      false,
    );
    const result = await runner.check(failing, lab);
    assert.equal(result.solved, false);
    // Then the check's own line comes first, and a note says what it may only mean
    assert.equal(result.feedback[0], 'web has 0 of 2 pods available.');
    assert.match(result.feedback[1] ?? '', /^The lab's API server did not answer within 5 s while the check ran/);
    assert.equal(result.feedback.length, 2);
    assert.equal(result.steps.length, 1, 'the probe is not a step of the scenario');
    const passing = fixture('api-down-passing-fixture', {}, undefined, undefined, false);
    assert.deepEqual((await runner.check(passing, lab)).feedback, []);
  });

  test('a hung break script is killed at its deadline and named', async () => {
    const scenario = fixture('hung-fixture', { 'break.sh': '#!/bin/sh\nsleep 600\n' });
    const started = Date.now();
    await assert.rejects(runner.applyBreak(scenario, lab, { force: true }), (error: unknown) => {
      assert.ok(error instanceof ScenarioScriptTimeoutError);
      assert.match(error.message, /hung-fixture\/break\.sh \(break on cp\) did not finish within 1500 ms/);
      return true;
    });
    assert.ok(Date.now() - started < 5_000, 'the caller is not held past the deadline');
  });

  test('a huge output is capped: feedback keeps its first lines and says it was cut', async () => {
    const scenario = fixture('loud-fixture', {
      'check.sh': '#!/bin/sh\ni=0\nwhile [ $i -lt 100000 ]; do echo "still wrong: line $i"; i=$((i+1)); done\nexit 1\n',
    });
    const result = await runner.check(scenario, lab);
    assert.equal(result.solved, false);
    assert.equal(result.steps[0]?.truncated, true);
    assert.ok((result.steps[0]?.stdout.length ?? 0) <= 4_096);
    assert.equal(result.feedback.length, 21);
    assert.equal(result.feedback[0], 'still wrong: line 0');
    assert.match(result.feedback.at(-1) ?? '', /^\(\d+ more lines\)$/);
  });

  test('a break script that fails names the file, the node and its error', async () => {
    const scenario = fixture('failing-fixture', { 'break.sh': '#!/bin/sh\necho "no such unit kubelet" >&2\nexit 5\n' });
    await assert.rejects(runner.applyBreak(scenario, lab, { force: true }), (error: unknown) => {
      assert.ok(error instanceof ScenarioScriptError);
      assert.equal(error.message, 'failing-fixture/break.sh (break on cp) exited 5: no such unit kubelet');
      return true;
    });
  });

  test('a dropped connection mid-script is a clear error that marks the lab for attention', async () => {
    // Given the lab reached through a TCP relay that we cut while the check runs
    const cp = lab.nodes.cp;
    assert.ok(cp);
    const relay = await startRelay(cp.host, 22);
    try {
      const relayed: LabTargets = { labId: lab.labId, nodes: { cp: { ...cp, host: '127.0.0.1', port: relay.port } } };
      const scenario = fixture(
        'dropped-fixture',
        { 'check.sh': '#!/bin/sh\necho started\nsleep 30\n' },
        {
          check: [{ run: 'check.sh', on: 'cp' }],
        },
      );
      const pending = runner.check(scenario, relayed);
      await waitFor(async () => (relay.sockets.size > 0 ? true : undefined), {
        what: 'a relayed connection',
        timeoutMs: 5_000,
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      relay.cut();
      await assert.rejects(pending, (error: unknown) => {
        assert.ok(error instanceof LabNeedsAttentionError);
        assert.equal(error.needsAttention, true);
        assert.equal(error.node, 'cp');
        assert.match(error.message, new RegExp(`lab ${lab.labId}, node cp: `));
        return true;
      });
    } finally {
      relay.server.close();
    }
  });

  test("a claim's setup rides in the first break command of each node; a retried break skips the script, not the setup", async () => {
    // Given a break on cp only, and a setup for both nodes (a claim's key install)
    const id = uniqueName('setup');
    const scenario = fixture('setup-fixture', { 'break.sh': `#!/bin/sh\ncat /tmp/${id}-setup > /tmp/${id}-broken\n` });
    const before = { cp: `echo cp > /tmp/${id}-setup`, w1: `echo w1 > /tmp/${id}-setup` };
    const read = async (node: 'cp' | 'w1', file: string) =>
      (await ssh.exec(lab.nodes[node] ?? assert.fail(node), `cat /tmp/${id}-${file} 2>/dev/null || echo none`)).stdout;

    // When the break is applied with it
    const steps = await runner.applyBreak(scenario, lab, { before });

    // Then the setup ran on both nodes, on cp before the break script (which saw its file)
    assert.deepEqual(
      steps.map((step) => [step.node, step.skipped, step.code]),
      [['cp', false, 0]],
    );
    assert.equal(steps[0]?.stderr, '', 'the status line is not part of the script output');
    assert.equal(await read('cp', 'broken'), 'cp\n');
    assert.equal(await read('w1', 'setup'), 'w1\n');

    // And applied again (a retried claim), the script is skipped but the setup still runs
    // (root's files, as the break wrote them through sudo, in the sticky /tmp: only root removes them)
    const removed = await ssh.exec(lab.nodes.cp ?? assert.fail('cp'), `rm /tmp/${id}-setup /tmp/${id}-broken`, {
      sudo: true,
    });
    assert.equal(removed.code, 0, removed.stderr);
    const again = await runner.applyBreak(scenario, lab, { before });
    assert.deepEqual(
      again.map((step) => [step.node, step.skipped]),
      [['cp', true]],
    );
    assert.equal(await read('cp', 'setup'), 'cp\n');
    assert.equal(await read('cp', 'broken'), 'none\n');
  });

  test('a setup that fails stops the break and marks the lab for attention', async () => {
    const id = uniqueName('badsetup');
    const scenario = fixture('badsetup-fixture', { 'break.sh': `#!/bin/sh\ntouch /tmp/${id}-broken\n` });
    await assert.rejects(
      runner.applyBreak(scenario, lab, { force: true, before: { cp: 'echo "disk full" >&2; false' } }),
      (error: unknown) => {
        assert.ok(error instanceof LabNeedsAttentionError);
        assert.match(error.message, /node cp: setup before the break failed: disk full/);
        return true;
      },
    );
    const seen = await ssh.exec(lab.nodes.cp ?? assert.fail('cp'), `test -e /tmp/${id}-broken && echo ran || echo not`);
    assert.equal(seen.stdout, 'not\n', 'the break did not run');
  });

  test('a break whose connection drops midway runs again on a new connection and succeeds', async () => {
    // Given the lab reached through a relay, and a break that takes a moment and counts its runs
    const cp = lab.nodes.cp;
    assert.ok(cp);
    const relay = await startRelay(cp.host, 22);
    const patient = createScenarioRunner({ ssh, stateDir: '/tmp/breakfix-scenario-state', breakTimeoutMs: 30_000 });
    try {
      const id = uniqueName('drop');
      const relayed: LabTargets = { labId: lab.labId, nodes: { cp: { ...cp, host: '127.0.0.1', port: relay.port } } };
      const scenario = fixture(
        'dropbreak-fixture',
        { 'break.sh': `#!/bin/sh\necho run >> /tmp/${id}-runs\nsleep 1\n` },
        { break: [{ run: 'break.sh', on: 'cp' }] },
      );
      const pending = patient.applyBreak(scenario, relayed, { force: true });
      // When the connection is cut while the script runs
      await waitFor(
        async () => ((await ssh.exec(cp, `cat /tmp/${id}-runs 2>/dev/null`)).stdout === 'run\n' ? true : undefined),
        { what: 'the break to start', timeoutMs: 10_000, intervalMs: 50 },
      );
      relay.cut();
      // Then the break ran again on a new connection, to the end
      const steps = await pending;
      assert.equal(steps[0]?.code, 0);
      assert.equal((await ssh.exec(cp, `cat /tmp/${id}-runs`)).stdout, 'run\nrun\n');
    } finally {
      relay.server.close();
    }
  });

  test('a node presenting another host key marks the lab for attention', async () => {
    const cp = lab.nodes.cp;
    assert.ok(cp);
    const scenario = fixture('hostkey-fixture', {});
    const impostor: LabTargets = {
      labId: lab.labId,
      nodes: { ...lab.nodes, cp: { ...cp, hostKey: keyPair().public } },
    };
    await assert.rejects(runner.check(scenario, impostor), (error: unknown) => {
      assert.ok(error instanceof LabNeedsAttentionError);
      assert.match(error.message, /host key mismatch/);
      return true;
    });
  });
});

/** A TCP relay to host:port whose connections the test can cut at once. */
async function startRelay(
  host: string,
  port: number,
): Promise<{ server: Server; port: number; sockets: Set<Socket>; cut(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = tcpConnect({ host, port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay has no port');
  return {
    server,
    port: address.port,
    sockets,
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}
