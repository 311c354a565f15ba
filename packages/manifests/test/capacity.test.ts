import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  labFootprint,
  labsPerHost,
  MEASURED_HEADROOM,
  MEASURED_NODE_MEMORY,
  measuredLabMemoryMiB,
  renderLab,
  SIZE_PROFILES,
} from '../src/index.js';
import { fixtureSecrets, platform, spec } from './fixtures.js';

const HOST = { memoryMiB: 64 * 1024 };

test('small labs request what their nodes were measured to use, plus headroom, and never more than the guest', () => {
  for (const role of ['control-plane', 'worker'] as const) {
    const node = SIZE_PROFILES.small[role];
    const measured = MEASURED_NODE_MEMORY[role];
    assert.ok(node.requestMemoryMiB >= measured.usedMiB * MEASURED_HEADROOM, `${role}: request below used x headroom`);
    assert.ok(node.requestMemoryMiB < node.memoryMiB, `${role}: small overcommits`);
    // The guest holds what a node was measured to use, with room for its page cache.
    assert.ok(node.memoryMiB >= measured.usedMiB * 2, `${role}: guest too small for what it was measured to use`);
  }
  for (const size of ['medium', 'large'] as const)
    for (const node of Object.values(SIZE_PROFILES[size])) assert.equal(node.requestMemoryMiB, node.memoryMiB);
});

test('a 64 GiB host fits 24 small labs, 60 % one-node and 40 % three-node, and 12 three-node labs alone', () => {
  const one = labFootprint({ workers: 0, size: 'small' }).memoryMiB;
  const three = labFootprint({ workers: 2, size: 'small' }).memoryMiB;
  // 24 labs: 14 one-node (58 %) and 10 three-node (42 %), rounding the 3-node share up.
  assert.ok(14 * one + 10 * three <= HOST.memoryMiB, `mix needs ${14 * one + 10 * three} MiB`);
  assert.ok(labsPerHost(HOST, { workers: 2, size: 'small' }).labs >= 12);
  // By what labs were measured to hold (no KSM, no swap) three-node labs still fit 12.
  assert.ok(Math.floor(HOST.memoryMiB / measuredLabMemoryMiB({ workers: 2, size: 'small' })) >= 12);
});

test('a rendered small VM asks for its request and shows its guest the whole guest memory', () => {
  const s = spec({ workers: 1, size: 'small' });
  const vms = renderLab(s, platform, fixtureSecrets(s)).filter((o) => o.kind === 'VirtualMachine') as unknown as {
    metadata: { name: string };
    spec: {
      template: { spec: { domain: { memory: { guest: string }; resources: { requests: { memory: string } } } } };
    };
  }[];
  assert.equal(vms.length, 2);
  for (const vm of vms) {
    const role = vm.metadata.name === 'cp' ? 'control-plane' : 'worker';
    const domain = vm.spec.template.spec.domain;
    assert.equal(domain.memory.guest, `${SIZE_PROFILES.small[role].memoryMiB}Mi`);
    assert.equal(domain.resources.requests.memory, `${SIZE_PROFILES.small[role].requestMemoryMiB}Mi`);
  }
});
