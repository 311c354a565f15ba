import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { createKube, type KubeObject } from '@breakfix/kube';
import { emulatedBootstrap } from '@breakfix/sandbox';
import { createLabSecrets, createOperatorKey } from '@breakfix/secrets';
import { createSshRunner } from '@breakfix/ssh';
import { uniqueName, useSandbox } from '@breakfix/testkit';
import { isolationPolicies, labNodes, parseLabSpec, parsePlatformConfig, renderLab } from '../src/index.js';
import { platformInput } from './fixtures.js';

type Vmi = KubeObject & { status?: { phase?: string; interfaces?: { ipAddress?: string }[] } };

test('a rendered 3-node lab, applied for real, boots in the sandbox and answers SSH with its pinned host keys', async () => {
  // Given a real lab: real secrets, the platform's operator key, policies included
  const kube = createKube({ kubeconfig: (await useSandbox()).info.kubeconfig });
  const operator = createOperatorKey();
  const platform = parsePlatformConfig({ ...platformInput, operator: { publicKey: operator.publicKey } });
  const spec = parseLabSpec({ labId: uniqueName('boot').slice(0, 20), kubernetesVersion: '1.36', workers: 2 });
  const secrets = await createLabSecrets({ labId: spec.labId, nodes: labNodes(spec).map((n) => n.name) });
  const objects = emulatedBootstrap(renderLab(spec, platform, secrets, { addons: [isolationPolicies] }));

  // When it is applied in order
  for (const object of objects) await kube.apply(object);

  // Then every node runs, and the operator logs in to each, verifying the host key from the secrets
  const ssh = createSshRunner();
  const namespace = objects[0]?.metadata.name ?? '';
  for (const node of labNodes(spec)) {
    const address = await waitFor(
      async () => {
        const vmi = await kube.get<Vmi>({
          apiVersion: 'kubevirt.io/v1',
          kind: 'VirtualMachineInstance',
          namespace,
          name: node.name,
        });
        return vmi?.status?.phase === 'Running' ? vmi.status.interfaces?.[0]?.ipAddress : undefined;
      },
      { what: `${node.name} running`, timeoutMs: 60_000 },
    );
    const hostKey = secrets.hostKeys[node.name]?.publicKey ?? '';
    const target = { host: address, username: platform.operator.user, privateKey: operator.privateKey, hostKey };
    // The bootstrap (emulated by the simulator) leaves the readiness marker where the provisioner looks.
    const ready = await waitFor(
      async () => {
        const result = await ssh.exec(
          target,
          'cat /var/lib/breakfix/ready 2>/dev/null; cat /etc/breakfix/bootstrap.env',
        );
        return /^\d{4}-\d{2}-\d{2}T/.test(result.stdout) ? result.stdout : undefined;
      },
      { what: `${node.name} ready marker`, timeoutMs: 10_000, intervalMs: 200 },
    );
    assert.match(ready, new RegExp(`BREAKFIX_NODE='${node.name}'`));
    assert.match(ready, /BREAKFIX_EXPECTED_NODES='3'/);
  }

  // And deleting the namespace takes the whole lab away (the controller manager cascades)
  await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: namespace });
  await waitFor(
    async () =>
      (await kube.list('kubevirt.io/v1', 'VirtualMachineInstance', { namespace })).length === 0 ? true : undefined,
    { what: 'the lab to be gone', timeoutMs: 60_000 },
  );
});
