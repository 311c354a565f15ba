import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '@breakfix/kube';
import { parsePoolsConfig } from '@breakfix/manifests';
import { resolveBinaries } from '@breakfix/sandbox';
import { loadCatalog, noPoolMessage, poolsServing, type Scenario } from '@breakfix/scenarios';
import { parse } from 'yaml';
import { SANDBOX_POOLS } from '../../scripts/sandbox-pools.js';
import { renderOverlay } from './deploy-kit.js';

const OVERLAYS = ['infra/overlays/prod', 'infra/overlays/dev', 'infra/overlays/prod-external-redis'];

/** Each scenario that no pool serves, with the pools.yaml entry that would. */
function unserved(scenarios: Scenario[], pools: ReturnType<typeof parsePoolsConfig>): string[] {
  return scenarios
    .filter((scenario) => poolsServing(scenario, pools).length === 0)
    .map((scenario) => {
      const { message, hint } = noPoolMessage(scenario);
      return `${message}: ${hint}`;
    });
}

test('every overlay ships a pool for each real-cluster scenario of the catalog', { timeout: 120_000 }, async () => {
  // Given the catalog's real-cluster scenarios and kubectl's own kustomize
  const scenarios = [...loadCatalog().values()].filter((s) => !s.simulator);
  const { kubectl } = await resolveBinaries();
  for (const overlay of OVERLAYS) {
    // When the overlay's pools file is rendered as the apps read it
    const maps = renderOverlay(kubectl, overlay).filter((o) => o.kind === 'ConfigMap') as (KubeObject & {
      data: Record<string, string>;
    })[];
    const text = maps.find((m) => m.data['pools.yaml'] !== undefined)?.data['pools.yaml'];
    assert.ok(text, `${overlay} ships pools.yaml`);
    const pools = parsePoolsConfig(parse(text));
    // Then every scenario has a pool of its topology, CNI and a version it lists
    assert.deepEqual(unserved(scenarios, pools), [], overlay);
  }
});

test("the sandbox's pools serve every simulator scenario", { timeout: 10_000 }, () => {
  const scenarios = [...loadCatalog().values()].filter((s) => s.simulator);
  assert.ok(scenarios.length > 0);
  assert.deepEqual(unserved(scenarios, parsePoolsConfig(SANDBOX_POOLS)), []);
});
