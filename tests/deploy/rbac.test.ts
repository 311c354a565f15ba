import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { UpstreamError, waitFor } from '@breakfix/core';
import { createKube, type Kube, type KubeObject } from '@breakfix/kube';
import { parseLabSpec, parsePlatformConfig } from '@breakfix/manifests';
import {
  closeSsh,
  createLabAccess,
  createProvisioner,
  EnvironmentStore,
  NodePortAllocator,
  reconcileNodePorts,
} from '@breakfix/pool';
import { emulatedBootstrap } from '@breakfix/sandbox';
import { createOperatorKey } from '@breakfix/secrets';
import { createSshRunner } from '@breakfix/ssh';
import { closeRedisConnections, nodePortBand, type TestSandbox, uniqueName, useSandbox } from '@breakfix/testkit';
import {
  kubectlPath,
  PLATFORM_NAMESPACE,
  rawStatus,
  renderOverlay,
  runKubectl,
  serviceAccountKube,
} from './deploy-kit.js';

// The objects that define the platform's identity on the cluster, exactly as the prod overlay
// renders them: ServiceAccounts, ClusterRoles and bindings, and the admission policies.
const IDENTITY_KINDS = new Set([
  'Namespace',
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
]);

let sandbox: TestSandbox;
let admin: Kube;
let worker: { kube: Kube; token: string };
let orchestrator: { kube: Kube; token: string };

before(async () => {
  sandbox = await useSandbox();
  admin = createKube({ kubeconfig: sandbox.info.kubeconfig });
  const kubectl = await kubectlPath(sandbox.info);
  // Installed the way the operator guide installs them (kubectl's server-side apply, its field
  // manager), so this file and the guide's own run never fight over who owns the policies.
  const identity = renderOverlay(kubectl, 'infra/overlays/prod').filter((o) => IDENTITY_KINDS.has(o.kind));
  runKubectl(kubectl, ['--kubeconfig', sandbox.info.kubeconfig, 'apply', '--server-side', '-f', '-'], {
    input: identity.map((o) => JSON.stringify(o)).join('\n'),
  });
  worker = serviceAccountKube(sandbox.info, kubectl, 'pool-worker');
  orchestrator = serviceAccountKube(sandbox.info, kubectl, 'orchestrator');
  // Admission policies take effect a moment after they are stored: wait until a write outside
  // the labs (dry run, so nothing is written while we wait) is refused.
  await waitFor(
    async () => {
      const outcome = await worker.kube.apply(secret('kube-system', uniqueName('probe')), { dryRun: true }).then(
        () => 'admitted',
        (error: unknown) => (status(error) === 403 ? 'refused' : 'admitted'),
      );
      return outcome === 'refused' ? true : undefined;
    },
    { what: 'the admission policies to take effect', timeoutMs: 30_000, intervalMs: 250 },
  );
});
after(closeRedisConnections);

function secret(namespace: string, name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, stringData: { k: 'v' } };
}

function status(error: unknown): number | undefined {
  return error instanceof UpstreamError ? (error as { status?: number }).status : undefined;
}

const REFUSED_BY = {
  rbac: /cannot \w+ resource/,
  policy: /ValidatingAdmissionPolicy '[\w-]+'/,
};

/**
 * Asserts the call is refused with 403 Forbidden, by RBAC (the role has no such verb) or by one
 * of the admission policies (the role has the verb, but not for this object).
 */
async function refused(what: string, by: keyof typeof REFUSED_BY, call: () => Promise<unknown>): Promise<string> {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error !== undefined, `${what}: expected 403, but it was allowed`);
  assert.equal(status(error), 403, `${what}: expected 403, got ${(error as Error).message}`);
  assert.match((error as Error).message, REFUSED_BY[by], `${what}: refused by ${by}`);
  return (error as Error).message;
}

test('with their own ServiceAccount tokens, the pool worker and the orchestrator run claim -> release', async () => {
  const redis = sandbox.redis();
  const prefix = `${uniqueName('rbac')}:`;
  const operatorKey = createOperatorKey();
  const platform = parsePlatformConfig({ operator: { publicKey: operatorKey.publicKey } });
  const store = new EnvironmentStore({ redis, prefix });
  const pool = 'rbac';
  const id = uniqueName('rb');

  // Given the pool worker's provisioner, acting as system:serviceaccount:breakfix-system:pool-worker
  const provisioner = createProvisioner({
    kube: worker.kube,
    store,
    ssh: createSshRunner(),
    platform,
    operatorKey,
    vmsRunningTimeoutMs: 120_000,
    readyTimeoutMs: 120_000,
    probeIntervalMs: 200,
    decorate: emulatedBootstrap,
  });
  // When it provisions a lab (namespace, quota, limits, cloud-init Secrets, Services, policies, VMs)
  assert.equal(await provisioner.provision({ id, pool, spec: parseLabSpec({ labId: id, size: 'small' }) }), 'ready');
  // And the reconciler lists the lab namespaces the way the worker does
  const labs = await worker.kube.list('v1', 'Namespace', {
    labelSelector: 'app.kubernetes.io/managed-by=breakfix,breakfix.dev/lab',
  });
  const namespace = provisioner.namespaceFor(id);
  assert.ok(labs.some((ns) => ns.metadata.name === namespace));

  // When a learner claims it through the orchestrator's claim path (NodePort Service, learner key
  // and a break over SSH), as system:serviceaccount:breakfix-system:orchestrator
  const allocator = new NodePortAllocator({ redis, prefix, range: nodePortBand('rbac') });
  const access = createLabAccess({
    kube: orchestrator.kube,
    store,
    allocator,
    ssh: createSshRunner(),
    platform,
    operatorKey,
    publicHost: 'labs.example.test',
  });
  const claimed = await access.claim({
    pool,
    learner: 'ada',
    scenario: 'rbac',
    ttlMs: 60_000,
    prepare: async (targets) => {
      assert.ok(targets.nodes.cp, 'the orchestrator may read the VMIs to reach the nodes');
    },
  });
  assert.equal(claimed.environment.id, id);
  const nodePort = claimed.connection.nodePort;
  const lab = { labId: id, namespace };
  // Then it can find the node to hand out: the control plane's VMI, and that Node
  const vmi = await orchestrator.kube.get<KubeObject & { status?: { nodeName?: string } }>({
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    namespace,
    name: 'cp',
  });
  assert.ok(vmi?.status?.nodeName, 'the VMI says where it runs');
  const node = await orchestrator.kube.get({ apiVersion: 'v1', kind: 'Node', name: vmi.status.nodeName });
  assert.equal(node?.metadata.name, vmi.status.nodeName, 'the orchestrator may read the Node the VMI runs on');
  // And the NodePort reconciler may read Services in every namespace
  const services = await orchestrator.kube.list('v1', 'Service');
  assert.ok(services.some((s) => s.metadata.namespace === namespace && s.metadata.name === 'ssh'));
  // and so may the pool worker's, which keeps the lab's lease (its Service exists)
  const report = await reconcileNodePorts({ kube: worker.kube, allocator, owner: { instance: platform.instance } });
  assert.deepEqual(report.freed, [], 'the claimed lab keeps its port');
  assert.equal((await allocator.leases()).find((l) => l.labId === id)?.port, nodePort);
  const ssh = await admin.get<KubeObject & { spec: { ports: { nodePort: number }[] } }>({
    apiVersion: 'v1',
    kind: 'Service',
    namespace,
    name: 'ssh',
  });
  assert.equal(ssh?.spec.ports[0]?.nodePort, nodePort);

  // And the worker's capacity guard may read what runs where
  assert.ok(Array.isArray(await worker.kube.list('v1', 'Node')));
  assert.ok(Array.isArray(await worker.kube.list('v1', 'Pod')));
  // And a retried provision may list the lab's VMs
  assert.equal((await worker.kube.list('kubevirt.io/v1', 'VirtualMachine', { namespace })).length, 1);

  // When the learner releases it: the orchestrator closes SSH first, the worker's release closes it
  // again (idempotent), and the worker tears the lab down
  assert.equal((await access.release(id)).state, 'releasing');
  assert.equal(await admin.get({ apiVersion: 'v1', kind: 'Service', namespace, name: 'ssh' }), undefined);
  await closeSsh({ kube: worker.kube, allocator }, lab);
  await provisioner.teardown(id);
  // Then the record is deleted and the namespace goes away
  assert.equal((await store.get(id)).state, 'deleted');
  await waitFor(
    async () => ((await admin.get({ apiVersion: 'v1', kind: 'Namespace', name: namespace })) ? undefined : true),
    { what: `namespace ${namespace} gone`, timeoutMs: 60_000, intervalMs: 250 },
  );
});

test('the same tokens are refused what the platform must never do', async () => {
  // Given a namespace that is not a lab, and a lab namespace the worker made
  const bystander = uniqueName('bystander');
  await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: bystander } });
  const labId = uniqueName('deny');
  const lab = `lab-${labId}`;
  const labLabels = {
    'breakfix.dev/lab': labId,
    'app.kubernetes.io/managed-by': 'breakfix',
    'breakfix.dev/instance': labId,
  };
  await worker.kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: lab, labels: labLabels } });

  for (const [who, { kube, token }] of [
    ['pool-worker', worker],
    ['orchestrator', orchestrator],
  ] as const) {
    // Reading Secrets in kube-system (RBAC grants no Secret reads at all)
    await refused(`${who} get a Secret in kube-system`, 'rbac', () =>
      kube.get({ apiVersion: 'v1', kind: 'Secret', namespace: 'kube-system', name: 'anything' }),
    );
    await refused(`${who} list Secrets in kube-system`, 'rbac', () =>
      kube.list('v1', 'Secret', { namespace: 'kube-system' }),
    );
    // Granting itself more: a ClusterRoleBinding to cluster-admin
    await refused(`${who} create a ClusterRoleBinding`, 'rbac', () =>
      kube.apply({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: uniqueName('escalate') },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name: who, namespace: PLATFORM_NAMESPACE }],
      }),
    );
    // Exec into pods, even in its own labs
    assert.equal(
      await rawStatus(sandbox.info, token, 'POST', `/api/v1/namespaces/${lab}/pods/virt-launcher-cp/exec?command=id`),
      403,
      `${who} create pods/exec`,
    );
    // Writing Secrets anywhere but a lab (the worker's ClusterRole would allow it; the policy does not)
    // The orchestrator has no Secret verbs at all, so RBAC refuses it first.
    const roleHasVerb = who === 'pool-worker' ? 'policy' : 'rbac';
    for (const namespace of ['kube-system', PLATFORM_NAMESPACE, bystander]) {
      await refused(`${who} create a Secret in ${namespace}`, roleHasVerb, () =>
        kube.apply(secret(namespace, uniqueName('s'))),
      );
    }
    // Services: both roles may write them, in labs only
    await refused(`${who} create a Service in ${bystander}`, 'policy', () =>
      kube.apply({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'ssh', namespace: bystander },
        spec: { type: 'NodePort', ports: [{ port: 22 }] },
      }),
    );
    // Deleting, relabelling or creating namespaces that are not labs
    const message = await refused(`${who} delete namespace ${bystander}`, roleHasVerb, () =>
      kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: bystander }),
    );
    if (who === 'pool-worker') assert.match(message, /only lab namespaces/);
    await refused(`${who} label kube-system as a lab`, roleHasVerb, () =>
      kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system', labels: labLabels } }),
    );
    await refused(`${who} create a namespace that is not a lab`, roleHasVerb, () =>
      kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: uniqueName('not-a-lab') } }),
    );
    await refused(`${who} create a namespace with a lab's labels but not its prefix`, roleHasVerb, () =>
      kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: uniqueName('kube'), labels: labLabels } }),
    );
  }

  // The worker may still patch a Secret in its lab, but not one outside it
  await worker.kube.apply(secret(lab, 'cp-cloud-init'));
  await refused('pool-worker patch a Secret in the platform namespace', 'policy', () =>
    worker.kube.apply(secret(PLATFORM_NAMESPACE, 'breakfix-redis')),
  );
  // The orchestrator writes no Secrets at all, not even in a lab
  await refused('orchestrator create a Secret in a lab', 'rbac', () =>
    orchestrator.kube.apply(secret(lab, uniqueName('s'))),
  );
  // Inside a lab, objects keep their shape: no LoadBalancer or externalIPs, no host disks in VMs
  await refused('orchestrator create a LoadBalancer Service', 'policy', () =>
    orchestrator.kube.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'ssh', namespace: lab },
      spec: { type: 'LoadBalancer', ports: [{ port: 22 }] },
    }),
  );
  await refused('orchestrator create a Service with externalIPs', 'policy', () =>
    orchestrator.kube.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'ssh', namespace: lab },
      spec: { type: 'ClusterIP', externalIPs: ['203.0.113.7'], ports: [{ port: 22 }] },
    }),
  );
  await refused('pool-worker create a VM with a host disk', 'policy', () =>
    worker.kube.apply({
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name: 'cp', namespace: lab, labels: labLabels },
      spec: {
        runStrategy: 'Halted',
        template: {
          spec: {
            domain: { devices: { disks: [{ name: 'root', disk: { bus: 'virtio' } }] } },
            volumes: [{ name: 'root', hostDisk: { path: '/etc/kubernetes/admin.conf', type: 'Disk' } }],
          },
        },
      },
    }),
  );
  // Then the bystander namespace is still there, unlabelled
  const still = await admin.get({ apiVersion: 'v1', kind: 'Namespace', name: bystander });
  assert.ok(still && still.metadata.deletionTimestamp === undefined);
  await admin.delete({ apiVersion: 'v1', kind: 'Namespace', name: bystander });
  await worker.kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: lab });
});
