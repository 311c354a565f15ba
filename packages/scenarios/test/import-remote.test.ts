import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitRemoteCommands } from '../src/import/remote.js';

const NODES = { node01: 'w1' };
const TIMEOUT = { timeout: 10_000 };

test('ssh lines become worker parts in order; quoted commands are unquoted', TIMEOUT, () => {
  const split = splitRemoteCommands(
    [
      'kubectl cordon node01',
      "ssh node01 'systemctl stop kubelet'",
      'ssh -o StrictHostKeyChecking=no -t root@node01 "echo \\"hi\\" > /tmp/x"',
      'ssh node01 systemctl disable kubelet || true',
      'touch /tmp/finished',
    ].join('\n'),
    NODES,
  );
  assert.deepEqual(split.segments, [
    { on: 'control-plane', body: 'kubectl cordon node01' },
    { on: 'w1', body: 'systemctl stop kubelet\necho "hi" > /tmp/x\nsystemctl disable kubelet || true' },
    { on: 'control-plane', body: 'touch /tmp/finished' },
  ]);
  assert.equal(split.unmoved, 0);
  assert.deepEqual(split.crossingVariables, []);
});

test('a heredoc sent over ssh runs on the worker as it is', TIMEOUT, () => {
  const split = splitRemoteCommands(
    ["ssh node01 bash <<'EOF'", 'sed -i s/a/b/ /etc/x', 'systemctl restart kubelet', 'EOF', 'echo done'].join('\n'),
    NODES,
  );
  assert.deepEqual(split.segments, [
    { on: 'w1', body: 'sed -i s/a/b/ /etc/x\nsystemctl restart kubelet' },
    { on: 'control-plane', body: 'echo done' },
  ]);
});

test('ssh inside a substitution or pipe stays, and is counted so the import can warn', TIMEOUT, () => {
  const split = splitRemoteCommands('state=$(ssh node01 systemctl is-active kubelet)\n[[ $state == active ]]', NODES);
  assert.equal(split.segments.length, 1);
  assert.equal(split.unmoved, 1);
});

test('variables set on the control plane and used by a worker part are named', TIMEOUT, () => {
  const split = splitRemoteCommands('file=/etc/kubernetes/kubelet.conf\nssh node01 "rm -f $file"', NODES);
  assert.deepEqual(split.crossingVariables, ['file']);
});

test('other hosts and a script without ssh are left alone', TIMEOUT, () => {
  const script = 'ssh backup01 ls\nkubectl get nodes';
  assert.deepEqual(splitRemoteCommands(script, NODES).segments, [{ on: 'control-plane', body: script }]);
});
