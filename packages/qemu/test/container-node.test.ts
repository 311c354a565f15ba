import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { InvalidInputError } from '@breakfix/core';
import {
  bootContainerNode,
  containerNodeFiles,
  type LabNetwork,
  type NoCloudSeed,
  rootPartition,
  sweepNodeCgroups,
} from '../src/index.js';

const SEED: NoCloudSeed = { userData: '#cloud-config\n', metaData: 'instance-id: cp.lab-a\n' };
const MAC = '52:54:00:aa:bb:cc';

function content(path: string, seed = SEED): string {
  const file = containerNodeFiles(seed, MAC).get(path);
  assert.ok(file !== undefined && 'content' in file, `${path} is a file`);
  return file.content;
}

/** The node's kubeadm wrapper, calling a stand-in that prints its arguments instead of kubeadm. */
function runWrapper(dir: string, args: string[]): string {
  const stand = join(dir, 'kubeadm');
  writeFileSync(stand, '#!/bin/sh\necho "$@"\n');
  chmodSync(stand, 0o755);
  const wrapper = join(dir, 'wrapper');
  writeFileSync(
    wrapper,
    content('/usr/local/bin/kubeadm')
      .replaceAll('/usr/bin/kubeadm', stand)
      .replaceAll('/run/breakfix-kubeadm.yaml', join(dir, 'amended.yaml')),
  );
  return execFileSync('sh', [wrapper, ...args], { encoding: 'utf8' }).trim();
}

describe('what a container node gets on top of the image', () => {
  test("the seed where ds-identify finds it; DHCP on the node's MAC unless the VM has network data", () => {
    const files = containerNodeFiles(SEED, MAC);
    assert.equal(content('/var/lib/cloud/seed/nocloud/user-data'), SEED.userData);
    assert.equal(content('/var/lib/cloud/seed/nocloud/meta-data'), SEED.metaData);
    assert.match(
      content('/var/lib/cloud/seed/nocloud/network-config'),
      /macaddress: "52:54:00:aa:bb:cc"\n\s+dhcp4: true/,
    );
    const own = 'version: 2\nethernets: {}\n';
    assert.equal(content('/var/lib/cloud/seed/nocloud/network-config', { ...SEED, networkData: own }), own);
    // the prepare unit runs before containerd, the kubelet and cloud-init, enabled in sysinit.target
    assert.match(
      content('/etc/systemd/system/breakfix-container-node.service'),
      /Before=.*containerd\.service kubelet\.service/,
    );
    assert.deepEqual(files.get('/etc/systemd/system/sysinit.target.wants/breakfix-container-node.service'), {
      symlink: '../breakfix-container-node.service',
    });
    // /etc/default/kubelet is the image's: scenarios break and fix it
    assert.equal(files.has('/etc/default/kubelet'), false);
    assert.equal(content('/etc/breakfix/container-node/sysctl/panic'), '10\n');
  });

  test('kubeadm init and join accept cgroup v1 and read a config whose kube-proxy keeps the conntrack size', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubeadm-wrapper-'));
    try {
      const config = join(dir, 'kubeadm.yaml');
      writeFileSync(
        config,
        'kind: InitConfiguration\n---\nkind: KubeletConfiguration\ncgroupDriver: systemd\n---\nkind: KubeProxyConfiguration\nmode: iptables\n',
      );
      const amended = join(dir, 'amended.yaml');
      assert.equal(
        runWrapper(dir, ['init', '--config', config, '--v=5']),
        `init --config ${amended} --v=5 --ignore-preflight-errors=SystemVerification`,
      );
      assert.equal(
        readFileSync(amended, 'utf8'),
        'kind: InitConfiguration\n---\nkind: KubeletConfiguration\nfailCgroupV1: false\ncgroupDriver: systemd\n---\n' +
          'kind: KubeProxyConfiguration\nconntrack:\n  maxPerCore: 0\nmode: iptables\n',
      );
      // The platform's own file is left as it was
      assert.doesNotMatch(readFileSync(config, 'utf8'), /conntrack/);
      // A phase takes no preflight flag (most refuse it), but reads the amended config too
      assert.equal(
        runWrapper(dir, ['init', 'phase', 'addon', 'kube-proxy', '--config', config]),
        `init phase addon kube-proxy --config ${amended}`,
      );
      assert.equal(
        runWrapper(dir, ['join', '--config', config]),
        `join --config ${amended} --ignore-preflight-errors=SystemVerification`,
      );
      // Everything else is kubeadm as it is
      assert.equal(runWrapper(dir, ['reset', '--force']), 'reset --force');
      assert.equal(runWrapper(dir, ['certs', 'check-expiration']), 'certs check-expiration');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("the root partition is found by its label in the disk's partition table", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'disk-'));
  try {
    const disk = join(dir, 'disk.raw');
    writeFileSync(disk, '');
    truncateSync(disk, 64 * 2 ** 20);
    execFileSync('sfdisk', ['--quiet', disk], {
      input:
        'label: gpt\nstart=2048, size=20480, type=uefi, name="esp"\nstart=22528, size=81920, type=linux, name="root"\n',
    });
    assert.deepEqual(await rootPartition(disk), { offset: 22528 * 512, size: 81920 * 512 });
    execFileSync('sfdisk', ['--quiet', disk], {
      input: 'label: gpt\nstart=2048, size=20480, type=linux, name="data"\n',
    });
    await assert.rejects(rootPartition(disk), /has no partition named root/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a container node needs the raw disk of its image, and says so', async () => {
  const network = { id: 'lab-a' } as LabNetwork;
  await assert.rejects(
    bootContainerNode(
      { dir: join(tmpdir(), 'never-made'), logDir: join(tmpdir(), 'never-made-log'), link: 'tap0', log: () => {} },
      {
        network,
        name: 'cp',
        image: { disk: '/images/node/disk.qcow2' },
        cpus: 2,
        memoryMiB: 2048,
        seed: SEED,
        expose: { address: '127.0.0.2', ports: [22] },
        node: 'container',
      },
    ),
    (error: unknown) =>
      error instanceof InvalidInputError &&
      /boot the golden image's raw disk; image \/images\/node\/disk\.qcow2 names none/.test(error.message),
  );
});

test("the sweep removes a killed sandbox's empty node cgroups, never one a process runs in", async (t) => {
  // Our cpu cgroup, where container nodes make theirs (v1 here; root may write it).
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[1] === 'cpu');
  if (line === undefined) return t.skip('no cgroup v1 cpu hierarchy on this host');
  const parent = join('/sys/fs/cgroup/cpu', line.split(':')[2] ?? '/');
  const dead = join(parent, `breakfix-test-dead-${process.pid}`);
  const live = join(parent, `breakfix-test-live-${process.pid}`);
  mkdirSync(join(dead, 'kubepods.slice', 'kubepods-besteffort.slice'), { recursive: true });
  mkdirSync(join(live, 'kubepods.slice'), { recursive: true });
  const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
  t.after(() => {
    sleeper.kill('SIGKILL');
    for (const dir of [join(live, 'kubepods.slice'), live]) rmSync(dir, { recursive: false, force: true });
  });
  writeFileSync(join(live, 'kubepods.slice', 'cgroup.procs'), String(sleeper.pid));
  const said: string[] = [];
  await sweepNodeCgroups((l) => said.push(l));
  assert.equal(existsSync(dead), false);
  assert.equal(existsSync(join(live, 'kubepods.slice')), true);
  assert.ok(said.some((l) => l.includes(dead)));
  assert.ok(!said.some((l) => l.includes(live)));
  // Give the sleeper back, so the live tree can go
  writeFileSync(join(parent, 'cgroup.procs'), String(sleeper.pid));
  await sweepNodeCgroups(() => {});
  assert.equal(existsSync(live), false);
});
