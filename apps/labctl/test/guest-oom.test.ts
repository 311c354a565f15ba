import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { GLOBAL_OOM_KILLS } from '../src/commands/scenario-test.js';

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

/** Runs the check's shell pipeline with `dmesg` printing `lines` (and `sudo -n` running its command). */
function killsIn(lines: readonly string[]): string {
  const fake = `sudo() { shift; "$@"; }; dmesg() { printf '%s\\n' ${lines.map((l) => `'${l}'`).join(' ')}; }`;
  return execFileSync('bash', ['-c', `${fake}; ${GLOBAL_OOM_KILLS}`], { encoding: 'utf8', timeout: 10_000 });
}

test('the guest memory check names what a global OOM killed, and ignores a pod over its own limit', {
  timeout: 30_000,
}, () => {
  assert.equal(killsIn(GLOBAL), 'Killed process 2291 (kube-apiserver)\n');
  assert.equal(killsIn(MEMCG), '');
  assert.equal(killsIn([...MEMCG, ...GLOBAL]), 'Killed process 2291 (kube-apiserver)\n');
  assert.equal(killsIn(['[    0.000000] Linux version 6.12.57+deb13-amd64']), '');
});
