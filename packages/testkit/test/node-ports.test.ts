import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type NodePortBand, nodePortBand, pinnedNodePort, SHARED_NODE_PORTS } from '../src/node-ports.js';

const BANDS: NodePortBand[] = [
  'kube-duplicate',
  'allocator-squatter',
  'allocator-adopt',
  'rbac',
  'manifests-quota',
  'manifests-validators',
  'allocator-instances',
  'sandbox-proxy',
];

describe('test NodePort bands', () => {
  test('the shared range and every band are disjoint and inside the apiserver range', () => {
    const ranges = [SHARED_NODE_PORTS, ...BANDS.map(nodePortBand)].sort((a, b) => a.first - b.first);
    for (const [i, r] of ranges.entries()) {
      assert.ok(r.first >= 30000 && r.last <= 32767 && r.first <= r.last, `${r.first}-${r.last}`);
      const next = ranges[i + 1];
      if (next !== undefined)
        assert.ok(r.last < next.first, `${r.first}-${r.last} overlaps ${next.first}-${next.last}`);
    }
  });

  test('a pinned window of consecutive ports stays inside its band', () => {
    const { first, last } = nodePortBand('allocator-squatter');
    for (let i = 0; i < 2000; i++) {
      const start = pinnedNodePort('allocator-squatter', 2);
      assert.ok(start >= first && start + 1 <= last, String(start));
    }
  });
});
