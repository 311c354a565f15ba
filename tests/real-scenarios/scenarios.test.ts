import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { useSandbox } from '@breakfix/testkit';
import { labctl, parseRuns, ROOT } from './labctl.js';

// Scenarios on a real lab, in every `npm test` (after the other tests, alone): one 1-node kubeadm
// lab booted under QEMU from the golden image with the platform's own cloud-init, then a
// control-plane fault, a DNS fault (the check needs the lab's own CoreDNS answer), an RBAC fault
// and a scenario imported from Killercoda, proven on it one after another (break, check fails,
// decoys, solve, check passes) through `labctl scenario test`, exactly as an instructor runs it.
// The lab is of the `small` profile, whose memory is overcommitted (docs/adr/0030): each scenario
// also proves that no guest ran out of memory.
//
// One node, not 1+1 (docs/adr/0035): on a slow day a 1+1 lab took 29 minutes to boot here and
// its two emulated guests starved each other, so the subset could not finish within CI's budget.
// Joins, worker faults and NetworkPolicy enforcement are proven by `npm run e2e` and the catalog
// run, `labctl scenario test --all` (docs/scenario-results.md).

const FROM_CATALOG = ['controller-manager-deployments', 'dns-corefile-broken', 'rbac-serviceaccount-forbidden'];
const IMPORTED = 'controlplane-kubelet-disabled';

test('a control-plane, a DNS, an RBAC fault and an imported scenario, each proven on a shared real 1-node lab', {
  timeout: 60 * 60_000,
}, async (t) => {
  const { info } = await useSandbox();
  const work = mkdtempSync(join(tmpdir(), 'real-scenarios-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const sandboxFile = join(work, 'sandbox.json');
  writeFileSync(sandboxFile, JSON.stringify(info));

  // A catalog of three of ours and one imported the way an instructor imports: labctl scenario
  // import, then the decoy the importer asks for (Killercoda has none).
  const catalog = join(work, 'catalog');
  for (const id of FROM_CATALOG) cpSync(join(ROOT, 'scenarios', id), join(catalog, id), { recursive: true });
  const imported = await labctl(
    [
      'scenario',
      'import',
      'killercoda',
      join(ROOT, 'packages/scenarios/test/fixtures/killercoda', IMPORTED),
      '--out',
      join(catalog, IMPORTED),
    ],
    60_000,
  );
  assert.equal(imported.code, 0, imported.stderr);
  writeFileSync(
    join(catalog, IMPORTED, 'decoy.sh'),
    '#!/bin/bash\n# Wrong fix: start the kubelet without enabling it; the next reboot brings the fault back.\n' +
      'set -euo pipefail\nsystemctl start kubelet\n',
  );
  const lint = await labctl(['scenario', 'lint', 'all', '--catalog', catalog], 120_000);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);

  const { code, stdout, stderr } = await labctl(
    ['scenario', 'test', '--all', '--catalog', catalog, '--size', 'small', '--json', '--sandbox', sandboxFile],
    59 * 60_000,
  );
  // What the guests went through, for whoever reads a failure
  console.log(stderr);
  const runs = parseRuns(stdout);
  console.log(
    JSON.stringify(runs.map((r) => ({ scenario: r.scenario, ok: r.ok, seconds: r.seconds, memory: r.memory }))),
  );
  assert.deepEqual(
    runs.map((r) => [r.scenario, r.ok, r.error]).sort(),
    [...FROM_CATALOG, IMPORTED].map((id) => [id, true, undefined]).sort(),
  );
  assert.equal(code, 0);
  // Labs are shared: a scenario gets the lab the previous one left solved and healthy. The first
  // boots one; a later one boots a fresh lab only when the health check after the previous solve
  // gave the lab up (said on stderr), never silently: an emulated control plane can stay unready
  // for minutes after a static pod restarts (docs/scenario-results.md).
  assert.equal(runs[0]?.reusedLab, false, 'the first scenario boots the lab');
  assert.ok(
    runs.some((r) => r.reusedLab),
    'at least one scenario reused the lab before it',
  );
  const freshBoots = runs.filter((r) => !r.reusedLab).length;
  const givenUp = stderr.match(/the lab is not healthy after solve \(/g)?.length ?? 0;
  assert.equal(freshBoots - 1, givenUp, `every fresh lab after the first has its reason:\n${stderr}`);
  assert.equal(new Set(runs.map((r) => r.labId)).size, freshBoots);
  for (const run of runs) {
    for (const phase of ['break', 'break again', 'check fails', 'decoy', 'solve', 'check passes'])
      assert.equal(typeof run.seconds[phase], 'number', `${run.scenario}: ${phase}`);
    // The guest's memory was read after the scenario (and no global OOM, or ok would be false).
    assert.deepEqual(Object.keys(run.memory ?? {}), ['cp'], run.scenario);
  }
  assert.match(stderr, /tore down lab st-[0-9a-f]{8}/);
});
