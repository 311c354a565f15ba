import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { GUEST_MEMORY, parseGuestMemory } from '../src/commands/scenario-test.js';

// What a guest kernel (Linux 6.12) logs for a global OOM and for a pod over its own memory limit.
const GLOBAL = [
  '[  812.004211] kube-apiserver invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=-997',
  '[  812.010332] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/kubepods.slice,task=kube-apiserver,pid=2291,uid=0',
  '[  812.010402] Out of memory: Killed process 2291 (kube-apiserver) total-vm:1530000kB, anon-rss:610000kB, file-rss:0kB',
];
const MEMCG = [
  '[  901.100000] stress invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=1000',
  '[  901.100100] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=cri-containerd-1.scope,mems_allowed=0,oom_memcg=/kubepods.slice/pod1,task_memcg=/kubepods.slice/pod1,task=stress,pid=4410,uid=0',
  '[  901.100200] Memory cgroup out of memory: Killed process 4410 (stress) total-vm:300000kB, anon-rss:120000kB',
];
// `free -m` on a small control plane.
const FREE = [
  '               total        used        free      shared  buff/cache   available',
  'Mem:            1967         912         120           3        1080         1055',
  'Swap:              0           0           0',
];

/** Runs the check's shell script with `dmesg` printing `lines` (or failing) and `free -m` as above. */
function runCheck(lines: readonly string[] | 'refused') {
  const quote = (l: string) => `'${l}'`;
  const dmesg = lines === 'refused' ? 'return 1' : `printf '%s\\n' ${lines.map(quote).join(' ')}`;
  const fakes = `sudo() { shift; "$@"; }; dmesg() { ${dmesg}; }; free() { printf '%s\\n' ${FREE.map(quote).join(' ')}; }`;
  return spawnSync('bash', ['-c', `${fakes}\n${GUEST_MEMORY}`], { encoding: 'utf8', timeout: 10_000 });
}

test('the guest memory check names what a global OOM killed, and ignores a pod over its own limit', {
  timeout: 30_000,
}, () => {
  const killed = (lines: readonly string[]) => parseGuestMemory(runCheck(lines).stdout).killed;
  assert.deepEqual(killed(GLOBAL), ['Killed process 2291 (kube-apiserver)']);
  assert.deepEqual(killed(MEMCG), []);
  assert.deepEqual(killed([...MEMCG, ...GLOBAL]), ['Killed process 2291 (kube-apiserver)']);
  assert.deepEqual(killed(['[    0.000000] Linux version 6.12.57+deb13-amd64']), []);
});

test("the guest memory check reads the guest's used memory and page cache", { timeout: 30_000 }, () => {
  const result = runCheck(MEMCG);
  assert.equal(result.status, 0);
  assert.deepEqual(parseGuestMemory(result.stdout).memory, { totalMiB: 1967, usedMiB: 912, cacheMiB: 1080 });
});

test('a kernel log the check cannot read fails it instead of passing for a clean one', { timeout: 30_000 }, () => {
  const result = runCheck('refused');
  assert.equal(result.status, 3);
  assert.match(result.stderr, /cannot read the kernel log/);
});
