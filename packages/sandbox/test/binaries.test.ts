import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UnsupportedEnvironmentError } from '@breakfix/core';
import { envVarFor, resolveBinaries } from '../src/index.js';

function fakeBinaries(names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'breakfix-bins-'));
  for (const name of names) {
    writeFileSync(join(dir, name), '#!/bin/sh\n');
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

const ALL = ['kube-apiserver', 'kube-controller-manager', 'etcd', 'kubectl', 'kubeadm'];

test('binaries come from a directory, with per-binary variables taking precedence', async () => {
  const dir = fakeBinaries(ALL);
  const own = fakeBinaries(['etcd']);
  const binaries = await resolveBinaries({
    env: { BREAKFIX_TESTBIN_DIR: dir, [envVarFor('etcd')]: join(own, 'etcd') },
    build: false,
  });
  assert.equal(binaries['kube-apiserver'], join(dir, 'kube-apiserver'));
  assert.equal(binaries.etcd, join(own, 'etcd'));
  assert.equal(envVarFor('kube-controller-manager'), 'BREAKFIX_KUBE_CONTROLLER_MANAGER');
});

test('envtest asset directories work too', async () => {
  const dir = fakeBinaries(ALL);
  const binaries = await resolveBinaries({ env: { KUBEBUILDER_ASSETS: dir }, build: false });
  assert.equal(binaries.kubectl, join(dir, 'kubectl'));
});

test('missing binaries are named with the variables that would provide them', async () => {
  const dir = fakeBinaries(['etcd', 'kubectl']);
  const emptyCache = mkdtempSync(join(tmpdir(), 'breakfix-cache-'));
  const env = { PATH: process.env.PATH, BREAKFIX_TESTBIN_DIR: dir, BREAKFIX_CACHE_DIR: emptyCache };
  await assert.rejects(resolveBinaries({ env, build: false }), (error: unknown) => {
    assert.ok(error instanceof UnsupportedEnvironmentError);
    assert.match(error.message, /kube-apiserver, kube-controller-manager, kubeadm/);
    assert.match(error.hint ?? '', /BREAKFIX_KUBE_APISERVER/);
    return true;
  });
});

test('a variable pointing at a non-executable file is reported', async () => {
  const dir = fakeBinaries(ALL);
  const plain = join(dir, 'not-executable');
  writeFileSync(plain, '');
  await assert.rejects(
    resolveBinaries({ env: { BREAKFIX_TESTBIN_DIR: dir, BREAKFIX_KUBEADM: plain }, build: false }),
    /kubeadm at .*not-executable is not an executable file/,
  );
});
