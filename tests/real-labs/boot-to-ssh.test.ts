import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { waitFor } from '@breakfix/core';
import { createKube, type KubeObject } from '@breakfix/kube';
import { isolationPolicies, labNodes, parseLabSpec, parsePlatformConfig, renderLab } from '@breakfix/manifests';
import { ANNOTATION_BACKEND, annotateVms, resolveBinaries } from '@breakfix/sandbox';
import { createLabSecrets, createOperatorKey } from '@breakfix/secrets';
import { createSshRunner } from '@breakfix/ssh';
import { uniqueName, useSandbox } from '@breakfix/testkit';

// A real guest in everyday `npm test`: a lab rendered by the platform, applied to the sandbox's
// apiserver with its VM asking for QEMU, boots the golden image under QEMU with cloud-init from
// the rendered Secret, takes its address from the lab's DHCP and answers SSH with the pinned host
// key. The full kubeadm boot (minutes more under emulation) is `npm run e2e`.

const run = promisify(execFile);
type Vmi = KubeObject & { status?: { phase?: string; interfaces?: { name?: string; ipAddress?: string }[] } };

test('a rendered lab boots as a real QEMU guest: cloud-init from its Secret, SSH with the pinned host key, lab DNS', {
  timeout: 30 * 60_000,
}, async () => {
  // Given a 1-node lab rendered by the platform, its VM asking the sandbox for a real guest
  const { info } = await useSandbox();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const operator = createOperatorKey();
  const platform = parsePlatformConfig({ operator: { publicKey: operator.publicKey } });
  const spec = parseLabSpec({ labId: uniqueName('real').slice(0, 20), kubernetesVersion: '1.36', size: 'small' });
  const secrets = await createLabSecrets({ labId: spec.labId, nodes: labNodes(spec).map((n) => n.name) });
  const objects = annotateVms({ [ANNOTATION_BACKEND]: 'qemu' })(
    renderLab(spec, platform, secrets, { addons: [isolationPolicies] }),
  );
  const namespace = objects[0]?.metadata.name ?? '';
  let passed = false;
  try {
    // When it is applied
    for (const object of objects) await kube.apply(object);

    // Then the VMI runs and reports the address the lab's DHCP leased (not before)
    const address = await waitFor(
      async () => {
        const vmi = await kube.get<Vmi>({
          apiVersion: 'kubevirt.io/v1',
          kind: 'VirtualMachineInstance',
          namespace,
          name: 'cp',
        });
        const ip = vmi?.status?.interfaces?.find((i) => i.name === 'default')?.ipAddress;
        return vmi?.status?.phase === 'Running' && ip !== undefined && ip !== '' ? ip : undefined;
      },
      { what: 'the control plane VMI to run with its leased address', timeoutMs: 20 * 60_000, intervalMs: 2_000 },
    );

    // And the operator logs in with the host key pinned from the lab's secrets, once cloud-init is done
    // Under emulation, with other tests busy, SSH's key exchange can take well over 10 s.
    const ssh = createSshRunner({ connectTimeoutMs: 120_000 });
    const target = {
      host: address,
      username: platform.operator.user,
      privateKey: operator.privateKey,
      hostKey: secrets.hostKeys.cp?.publicKey ?? '',
    };
    const facts = await waitFor(
      async () => {
        const result = await ssh.exec(
          target,
          [
            // runcmd (the node bootstrap: kubeadm) keeps cloud-init running for minutes: the
            // modules before it are done once the bootstrap's log exists.
            'until sudo test -f /var/log/breakfix-bootstrap.log; do sleep 2; done; cloud-init status --format json',
            'echo "hostname=$(hostname)"',
            `echo "cp-api=$(getent hosts cp-api.${namespace}.svc.cluster.local | cut -d' ' -f1)"`,
            'echo "eth0=$(ip -4 -o addr show eth0 | awk \'{ print $4 }\' | cut -d/ -f1)"',
            'echo "search=$(sed -n "s/^search //p" /etc/resolv.conf)"',
            'sudo ctr -n k8s.io images ls -q | sed "s/^/image=/"',
            'sudo test -x /usr/local/sbin/breakfix-bootstrap && echo bootstrap=installed',
          ].join('; '),
          { timeoutMs: 15 * 60_000 },
        );
        return result.code === 0 ? result.stdout : undefined;
      },
      { what: 'SSH into the booted guest', timeoutMs: 15 * 60_000, intervalMs: 5_000 },
    );
    console.log(`what the guest says:\n${facts}`);
    const lines = facts.split('\n');
    const value = (key: string) => lines.find((line) => line.startsWith(`${key}=`))?.slice(key.length + 1);
    const status = JSON.parse(facts.slice(0, facts.indexOf('hostname='))) as { status: string; errors: string[] };
    assert.ok(['running', 'done'].includes(status.status), `cloud-init: ${JSON.stringify(status)}`);
    assert.deepEqual(status.errors, [], 'cloud-init reports no errors');
    assert.equal(value('hostname'), 'cp');
    assert.equal(value('bootstrap'), 'installed');
    // the lab's DNS answers cp-api.<ns>.svc.cluster.local with the control plane's own address,
    // through the search domains DHCP handed out the way KubeVirt's does
    assert.match(value('eth0') ?? '', /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(value('cp-api'), value('eth0'));
    for (const domain of [`${namespace}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local']) {
      assert.ok(value('search')?.split(/\s+/).includes(domain), `search domain ${domain} in: ${value('search')}`);
    }
    // and containerd already holds every image kubeadm names (no network needed)
    const binaries = await resolveBinaries({ build: false });
    const { stdout } = await run(binaries.kubeadm, [
      'config',
      'images',
      'list',
      '--kubernetes-version',
      spec.release.version,
    ]);
    const images = lines.filter((line) => line.startsWith('image=')).map((line) => line.slice(6));
    for (const image of stdout.trim().split('\n')) assert.ok(images.includes(image), `${image} is not in containerd`);
    passed = true;
  } finally {
    // Deleting the lab stops its guest: the VMI goes, and QEMU with it
    await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
    const gone = waitFor(
      async () => {
        const vmis = await kube.list('kubevirt.io/v1', 'VirtualMachineInstance', { namespace });
        const { stdout } = await run('pgrep', ['-f', `qemu-system.*${namespace}`]).catch(() => ({ stdout: '' }));
        return vmis.length === 0 && stdout.trim() === '' ? true : undefined;
      },
      { what: 'the lab and its QEMU gone', timeoutMs: 120_000, intervalMs: 1_000 },
    );
    // A failure above is the story; a clean-up that also fails is reported after it.
    if (passed) await gone;
    else await gone.catch((error: unknown) => console.error(`clean-up: ${(error as Error).message}`));
  }
});
