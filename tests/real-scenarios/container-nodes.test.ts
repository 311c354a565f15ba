import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { useSandbox } from '@breakfix/testkit';
import { labctl, parseRuns, ROOT } from './labctl.js';

// Scenarios on container nodes (docs/adr/0037), in every `npm test`: the golden image's root file
// system booted by systemd-nspawn on the host's kernel, with the platform's own cloud-init, on the
// same lab network as a QEMU guest. One 1+1 lab for a worker fault, a workload fault, a
// per-node network sysctl and kube-proxy's configuration (which container nodes amend), and a
// 1-node lab for a control-plane fault whose solve re-runs a kubeadm phase; through
// `labctl scenario test --nodes container`, as the catalog matrix runs them. Then: a scenario that
// needs a node's own kernel is refused, and nothing of the nodes is left on the host.

const SCENARIOS = [
  'kubelet-stopped',
  'workload-image-tag',
  'node-ip-forward-off',
  'kube-proxy-bad-mode',
  'apiserver-cert-san',
];

/** The cgroups container nodes make for themselves (`breakfix-<node>`), anywhere in a v1 hierarchy. */
function nodeCgroups(): string[] {
  const found: string[] = [];
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers === undefined || controllers === '' || path === undefined) continue;
    if (controllers.startsWith('name=') && controllers !== 'name=systemd') continue;
    const dir = join('/sys/fs/cgroup', controllers === 'name=systemd' ? 'systemd' : controllers, path);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir)) if (entry.startsWith('breakfix-lab-')) found.push(join(dir, entry));
  }
  return found;
}

/** Loop devices backed by a golden image's raw disk (a container node's root file system). */
function goldenLoopDevices(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE'], (error, out) => {
      if (error) return reject(error);
      const { loopdevices = [] } = (out.trim() === '' ? {} : JSON.parse(out)) as {
        loopdevices?: { name: string; 'back-file': string | null }[];
      };
      resolve(loopdevices.filter((d) => /\/disk\.raw\b/.test(d['back-file'] ?? '')).map((d) => d.name));
    });
  });
}

test('a worker, a workload, a network and a control-plane fault, each proven on container nodes', {
  timeout: 30 * 60_000,
}, async (t) => {
  const { info } = await useSandbox();
  const work = mkdtempSync(join(tmpdir(), 'container-nodes-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const sandboxFile = join(work, 'sandbox.json');
  writeFileSync(sandboxFile, JSON.stringify(info));
  const catalog = join(work, 'catalog');
  for (const id of SCENARIOS) cpSync(join(ROOT, 'scenarios', id), join(catalog, id), { recursive: true });
  const cgroupsBefore = nodeCgroups();

  const { code, stdout, stderr } = await labctl(
    ['scenario', 'test', '--all', '--catalog', catalog, '--nodes', 'container', '--json', '--sandbox', sandboxFile],
    28 * 60_000,
  );
  console.log(stderr);
  const runs = parseRuns(stdout);
  console.log(JSON.stringify(runs.map((r) => ({ scenario: r.scenario, ok: r.ok, seconds: r.seconds }))));
  assert.deepEqual(
    runs.map((r) => [r.scenario, r.nodes, r.ok, r.error]).sort(),
    SCENARIOS.map((id) => [id, 'container', true, undefined]).sort(),
  );
  assert.equal(code, 0);
  // Two shapes, two labs: the 1+1 lab is shared by the four scenarios that need a worker.
  assert.equal(runs.filter((r) => !r.reusedLab).length, 2, stderr);
  assert.equal(new Set(runs.map((r) => r.labId)).size, 2);
  for (const run of runs) {
    for (const phase of ['break', 'break again', 'check fails', 'decoy', 'solve', 'check passes'])
      assert.equal(typeof run.seconds[phase], 'number', `${run.scenario}: ${phase}`);
    // A container node's `free` and kernel log are the host's: no guest memory is claimed.
    assert.equal(run.memory, undefined, run.scenario);
  }
  assert.match(stderr, /container nodes: a minute or two/);

  // Nothing of the nodes is left: no loop device on a golden image (each node's mounts live in a
  // mount namespace of its own, which goes with it), no cgroup, no node directory. A lab's
  // teardown returns once its namespace is gone; its nodes shut down within seconds after.
  const nodeDirs = join(info.dir, 'qemu', 'vm');
  const leftovers = async () => ({
    loops: await goldenLoopDevices(),
    cgroups: nodeCgroups().filter((dir) => !cgroupsBefore.includes(dir)),
    dirs: existsSync(nodeDirs) ? readdirSync(nodeDirs) : [],
  });
  const none = { loops: [], cgroups: [], dirs: [] };
  await waitFor(async () => (JSON.stringify(await leftovers()) === JSON.stringify(none) ? true : undefined), {
    what: 'the container nodes to be gone from the host',
    timeoutMs: 90_000,
    intervalMs: 1_000,
  }).catch(() => undefined); // the assertion below says what is left
  assert.deepEqual(await leftovers(), none);

  // A scenario whose fault is in a node's own kernel is refused on container nodes, before any boot.
  const refused = await labctl(
    ['scenario', 'test', 'node-swap-enabled', '--nodes', 'container', '--sandbox', sandboxFile],
    60_000,
  );
  assert.equal(refused.code, 2, 'a usage error: that scenario with those nodes'); // README: exit codes
  assert.match(refused.stderr + refused.stdout, /node-swap-enabled needs VM nodes \(nodes: vm\)/);
  assert.doesNotMatch(refused.stderr + refused.stdout, /provisioning lab/);
});
