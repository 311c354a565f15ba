import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { vmiAddress } from '@breakfix/manifests';
import { type Environment, lostReason, runningNode, type Vmi } from '../src/index.js';

const env: Environment = {
  id: 'e1',
  pool: 'p',
  namespace: 'lab-e1',
  state: 'ready',
  createdAt: 0,
  updatedAt: 0,
  vmis: { cp: 'uid-cp', w1: 'uid-w1' },
};

function vmi(name: string, uid: string, phase: string, interfaces: { name?: string; ipAddress?: string }[]): Vmi {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name, namespace: 'lab-e1', uid },
    status: { phase, interfaces },
  };
}
const up = (name: string, uid = `uid-${name}`) =>
  vmi(name, uid, 'Running', [{ name: 'default', ipAddress: '10.0.0.9' }]);

describe('reading a VMI', () => {
  const cases: [string, Vmi, string | undefined][] = [
    [
      'the default interface, wherever it is listed',
      vmi('cp', 'u', 'Running', [
        { name: 'lo', ipAddress: '127.0.0.1' },
        { name: 'default', ipAddress: '10.0.0.7' },
      ]),
      '10.0.0.7',
    ],
    [
      'no address yet (Running before the guest reported it)',
      vmi('cp', 'u', 'Running', [{ name: 'default' }]),
      undefined,
    ],
    ['an empty address', vmi('cp', 'u', 'Running', [{ name: 'default', ipAddress: '' }]), undefined],
    ['only another interface', vmi('cp', 'u', 'Running', [{ name: 'eth1', ipAddress: '10.0.0.8' }]), undefined],
  ];
  for (const [what, given, address] of cases) {
    test(what, () => {
      assert.equal(vmiAddress(given), address);
      assert.equal(runningNode(given)?.address, address);
    });
  }
  test('an address on a VMI that is not Running is no running node', () => {
    assert.equal(runningNode(vmi('cp', 'u', 'Failed', [{ name: 'default', ipAddress: '10.0.0.7' }])), undefined);
  });
  test('a Running VMI being deleted is no running node', () => {
    const deleting = { ...up('cp'), metadata: { ...up('cp').metadata, deletionTimestamp: '2026-12-01T12:00:00Z' } };
    assert.equal(runningNode(deleting), undefined);
  });
});

describe('when a lab is lost', () => {
  const cases: [string, Vmi[], RegExp | undefined][] = [
    ['every VMI the checked boot, Running with an address', [up('cp'), up('w1')], undefined],
    ['a VMI gone', [up('cp')], /^VMI w1 is gone$/],
    [
      'a VMI replaced by a new boot (deleted under runStrategy Once)',
      [up('cp'), up('w1', 'uid-new')],
      /^VMI w1 was replaced/,
    ],
    ['a VMI that ended', [up('cp'), vmi('w1', 'uid-w1', 'Failed', [])], /^VMI w1 is Failed$/],
    [
      'a VMI that lost its address',
      [up('cp'), vmi('w1', 'uid-w1', 'Running', [{ name: 'default' }])],
      /^VMI w1 has no address$/,
    ],
    [
      'a VMI being deleted (KubeVirt holds it by its finalizers while the guest stops)',
      [up('cp'), { ...up('w1'), metadata: { ...up('w1').metadata, deletionTimestamp: '2026-12-01T12:00:00Z' } }],
      /^VMI w1 is being deleted$/,
    ],
    ['two at once', [], /VMI cp is gone; VMI w1 is gone/],
  ];
  for (const [what, vmis, reason] of cases) {
    test(what, () => {
      const found = lostReason(env, new Map(vmis.map((v) => [v.metadata.name, v])));
      if (reason === undefined) assert.equal(found, undefined);
      else assert.match(found ?? '', reason);
    });
  }
});
