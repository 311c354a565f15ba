import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidInputError } from '@breakfix/core';
import {
  DEFAULT_INSTANCE,
  INSTANCE_LABEL,
  isOwnLab,
  LABELS,
  labLabels,
  parsePlatformConfig,
  renderLab,
  sshService,
} from '../src/index.js';
import { fixtureSecrets, platformInput, spec } from './fixtures.js';

describe('the platform instance', () => {
  test('an install that names no instance is the default one, so a single install needs no new setting', () => {
    assert.equal(parsePlatformConfig(platformInput).instance, DEFAULT_INSTANCE);
    assert.equal(DEFAULT_INSTANCE, 'breakfix');
  });

  for (const bad of ['', 'Staging', 'team_a', '-staging', 'staging-', 'a.b', 'x'.repeat(64)]) {
    test(`"${bad}" is refused: an instance becomes a label value and must be a DNS label`, { timeout: 5_000 }, () => {
      assert.throws(
        () => parsePlatformConfig({ ...platformInput, instance: bad }),
        (error: unknown) => {
          assert.ok(error instanceof InvalidInputError);
          assert.match(error.message, /instance: must be a DNS label/);
          return true;
        },
      );
    });
  }

  test('every object of a lab, and its ssh Service, carries the instance', { timeout: 5_000 }, () => {
    const platform = parsePlatformConfig({ ...platformInput, instance: 'staging' });
    const s = spec({ workers: 1 });
    const objects = renderLab(s, platform, fixtureSecrets(s));
    assert.ok(objects.length > 5);
    for (const object of objects) assert.equal(object.metadata.labels?.[INSTANCE_LABEL], 'staging', object.kind);
    const namespace = objects.find((o) => o.kind === 'Namespace');
    assert.equal(namespace?.metadata.labels?.[LABELS.instance], 'staging');
    const ssh = sshService({ labId: s.labId, namespace: 'lab-x', labels: labLabels(s.labId, platform) }, 30_001);
    assert.equal(ssh.metadata.labels?.[INSTANCE_LABEL], 'staging');
  });

  const labelled = (instance?: string) => ({
    [LABELS.lab]: 'a1',
    [LABELS.managedBy]: 'breakfix',
    ...(instance === undefined ? {} : { [INSTANCE_LABEL]: instance }),
  });
  const cases: [string, Record<string, string>, { instance: string; adoptUnlabelled?: boolean }, boolean][] = [
    ['its own lab', labelled('staging'), { instance: 'staging' }, true],
    ["another instance's lab", labelled('prod'), { instance: 'staging' }, false],
    ["another instance's lab, even for the default instance", labelled('prod'), { instance: DEFAULT_INSTANCE }, false],
    [
      "another instance's lab, even when adopting unlabelled ones",
      labelled('prod'),
      { instance: 'x', adoptUnlabelled: true },
      false,
    ],
    ['an unlabelled (older) lab, for the default instance', labelled(), { instance: DEFAULT_INSTANCE }, true],
    ['an unlabelled (older) lab, for a named instance', labelled(), { instance: 'staging' }, false],
    [
      'an unlabelled lab, for a named instance told to adopt them',
      labelled(),
      { instance: 'staging', adoptUnlabelled: true },
      true,
    ],
    [
      'an unlabelled lab, for the default instance told not to',
      labelled(),
      { instance: DEFAULT_INSTANCE, adoptUnlabelled: false },
      false,
    ],
  ];
  for (const [what, labels, owner, own] of cases) {
    test(`${what}: ${own ? 'owned' : 'not owned'}`, { timeout: 5_000 }, () => {
      assert.equal(isOwnLab(labels, owner), own);
    });
  }
});
