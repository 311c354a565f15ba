import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BOOTSTRAP_SCRIPT } from '@breakfix/cloud-init';

// A failed bootstrap writes `kubeadm init failed: <reason>` to the node's failed marker, and the
// provisioner shows it as the lab's failure: the reason must be kubeadm's, not its boilerplate.

const work = mkdtempSync(join(tmpdir(), 'bootstrap-errors-'));

/** Runs the bootstrap script's own last_error function on a log, as the script does. */
function lastError(log: string): string {
  const definition = /^last_error\(\) \{\n[\s\S]*?\n\}$/m.exec(BOOTSTRAP_SCRIPT)?.[0];
  assert.ok(definition, 'the bootstrap script defines last_error()');
  const file = join(work, `log-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, log);
  // $(last_error ...) in the script: command substitution drops the final newline
  return execFileSync('bash', ['-c', `set -euo pipefail\n${definition}\nlast_error "$1"`, 'bash', file], {
    encoding: 'utf8',
  }).replace(/\n$/, '');
}

const PREFLIGHT = `[init] Using Kubernetes version: v1.35.4
[preflight] Running pre-flight checks
error execution phase preflight: [preflight] Some fatal errors occurred:
\t[ERROR DirAvailable--var-lib-etcd]: /var/lib/etcd is not empty
\t[ERROR Port-10250]: Port 10250 is in use
[preflight] If you know what you are doing, you can make a check non-fatal with \`--ignore-preflight-errors=...\`
error: error execution phase preflight: preflight checks failed
To see the stack trace of this error execute with --v=5 or higher
`;

test('a failed preflight is reported by the checks that failed, not by kubeadm’s advice', { timeout: 10_000 }, () => {
  assert.equal(
    lastError(PREFLIGHT),
    ' [ERROR DirAvailable--var-lib-etcd]: /var/lib/etcd is not empty [ERROR Port-10250]: Port 10250 is in use ',
  );
});

test('any other failure is reported by its last lines that say error, without the stack-trace advice', {
  timeout: 10_000,
}, () => {
  const log = `[init] Using Kubernetes version: v1.35.4
[wait-control-plane] Waiting for the kubelet to boot up the control plane
[kubelet-check] The kubelet is not healthy after 4m0s
error: error execution phase wait-control-plane: could not initialize a Kubernetes cluster
To see the stack trace of this error execute with --v=5 or higher
`;
  assert.equal(
    lastError(log),
    'error: error execution phase wait-control-plane: could not initialize a Kubernetes cluster ',
  );
  assert.equal(lastError('all fine\n'), '');
});
