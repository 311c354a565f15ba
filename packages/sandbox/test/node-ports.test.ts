import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '@breakfix/core';
import { createKube, type Kube, type KubeObject } from '@breakfix/kube';
import { vmiAddress } from '@breakfix/manifests';
import { pinnedNodePort, uniqueName, useSandbox } from '@breakfix/testkit';
import { cloudInitSecret, keyPair, namespace, sshExec, userData, virtualMachine } from './fixtures.js';

interface Pod extends KubeObject {
  spec?: { nodeName?: string };
  status?: { podIP?: string; podIPs?: { ip: string }[]; hostIP?: string };
}
interface Node extends KubeObject {
  status?: { addresses?: { type: string; address: string }[] };
}
interface EndpointSlice extends KubeObject {
  endpoints?: { addresses: string[]; nodeName?: string; conditions?: { ready?: boolean } }[] | null;
  ports?: { name?: string; port?: number }[] | null;
}

const hostKey = keyPair('host');
const learner = keyPair('learner');
/** Four NodePorts of a band nothing else in a test run takes. */
const firstPort = pinnedNodePort('sandbox-proxy', 4);

let kube: Kube;
let ns: string;
let pod: Pod;
let nodes: Node[];

/** `connect()` to host:port: 'refused', 'open' (and closed by us), or 'timeout'. */
function probe(host: string, port: number): Promise<'refused' | 'open' | 'timeout'> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve('open');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED' ? 'refused' : 'open'));
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
  });
}

const addressesOf = (node: Node | undefined) => (node?.status?.addresses ?? []).filter((a) => a.type !== 'Hostname');
const nodeOf = (name: string | undefined) => nodes.find((node) => node.metadata.name === name);

function nodePortService(
  name: string,
  nodePort: number,
  options: { selector?: Record<string, string>; targetPort?: number; policy?: string } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns },
    spec: {
      type: 'NodePort',
      externalTrafficPolicy: options.policy ?? 'Local',
      selector: options.selector ?? { 'breakfix.dev/lab': ns, 'breakfix.dev/role': 'control-plane' },
      ports: [{ name: 'ssh', protocol: 'TCP', port: 22, targetPort: options.targetPort ?? 22, nodePort }],
    },
  };
}

/** The Service's EndpointSlice once the controller wrote it (with or without endpoints). */
async function sliceOf(service: string): Promise<EndpointSlice> {
  return await waitFor(
    async () =>
      (
        await kube.list<EndpointSlice>('discovery.k8s.io/v1', 'EndpointSlice', {
          namespace: ns,
          labelSelector: `kubernetes.io/service-name=${service}`,
        })
      )[0],
    { what: `the EndpointSlice of ${service}`, timeoutMs: 30_000, intervalMs: 100 },
  );
}

const login = (host: string, port: number) =>
  sshExec({
    host,
    port,
    username: 'learner',
    privateKey: learner.private,
    hostKey: hostKey.public,
    command: 'hostname',
  });

before(async () => {
  kube = createKube({ kubeconfig: (await useSandbox()).info.kubeconfig });
  ns = uniqueName('np');
  await kube.apply(namespace(ns));
  await kube.apply(
    cloudInitSecret(ns, 'cp-cloud-init', userData({ hostKey, hostname: 'cp', users: { learner: [learner.public] } })),
  );
  const vm = virtualMachine(ns, 'cp', { secret: 'cp-cloud-init' }) as KubeObject & {
    spec: { template: { metadata: { labels: Record<string, string> } } };
  };
  vm.spec.template.metadata.labels['breakfix.dev/lab'] = ns;
  await kube.apply(vm);
  await waitFor(
    async () => {
      const vmi = await kube.get<KubeObject & Parameters<typeof vmiAddress>[0]>({
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        namespace: ns,
        name: 'cp',
      });
      return vmi !== undefined && vmiAddress(vmi) !== undefined ? true : undefined;
    },
    { what: 'the VMI to run with an address', timeoutMs: 60_000 },
  );
  pod = (await kube.list<Pod>('v1', 'Pod', { namespace: ns }))[0] ?? assert.fail('a launcher pod');
  nodes = await kube.list<Node>('v1', 'Node');
});

after(async () => {
  await kube?.delete({ apiVersion: 'v1', kind: 'Namespace', name: ns });
});

describe('Services and NodePorts in the sandbox, as kube-proxy serves them', () => {
  test('a launcher pod has a pod-network address, published as a ready endpoint; nodes have loopback addresses', {
    timeout: 60_000,
  }, async () => {
    // The pod's address is not loopback (the EndpointSlice API refuses those) nor link-local
    const podIP = pod.status?.podIP ?? assert.fail('a pod IP');
    assert.match(podIP, /^10\.244\.\d+\.\d+$/);
    assert.deepEqual(pod.status?.podIPs, [{ ip: podIP }]);
    // and its node's addresses are loopback addresses, the pod's hostIP the node's InternalIP
    const node = nodeOf(pod.spec?.nodeName);
    for (const address of addressesOf(node)) assert.match(address.address, /^127\.\d+\.25[45]\.\d+$/);
    assert.equal(pod.status?.hostIP, addressesOf(node).find((a) => a.type === 'InternalIP')?.address);

    // When a Service selects the VM by the lab's labels, its EndpointSlice lists the pod, ready, on its node
    await kube.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'cp-headless', namespace: ns },
      spec: { clusterIP: 'None', selector: { 'breakfix.dev/lab': ns }, ports: [{ name: 'ssh', port: 22 }] },
    });
    const slice = await waitFor(
      async () => {
        const found = await sliceOf('cp-headless');
        return (found.endpoints ?? []).length > 0 ? found : undefined;
      },
      { what: 'an endpoint for cp-headless', timeoutMs: 30_000, intervalMs: 100 },
    );
    assert.deepEqual(
      slice.endpoints?.map((e) => [e.addresses, e.nodeName, e.conditions?.ready]),
      [[[podIP], pod.spec?.nodeName, true]],
    );
  });

  test("the VM's NodePort (Local) logs the learner in on its node's addresses and only there", {
    timeout: 60_000,
  }, async (t) => {
    // Given the lab's kind of SSH Service: NodePort, externalTrafficPolicy Local, the control plane's labels
    const started = performance.now();
    await kube.apply(nodePortService('ssh', firstPort));

    // Then the node running the VM logs the learner in at both its addresses, through the NodePort
    const node = nodeOf(pod.spec?.nodeName);
    const [external, internal] = ['ExternalIP', 'InternalIP'].map(
      (type) => addressesOf(node).find((a) => a.type === type)?.address ?? assert.fail(type),
    ) as [string, string];
    const first = await waitFor(() => login(external, firstPort).catch(() => undefined), {
      what: `an SSH login at ${external}:${firstPort}`,
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    t.diagnostic(
      `Service created -> learner logged in through the NodePort: ${Math.round(performance.now() - started)} ms`,
    );
    assert.deepEqual(first, { stdout: 'cp\n', code: 0 });
    assert.deepEqual(await login(internal, firstPort), { stdout: 'cp\n', code: 0 });
    // and the other nodes do not forward it (kube-proxy drops it there; the sandbox refuses)
    for (const other of nodes.filter((n) => n.metadata.name !== node?.metadata.name)) {
      for (const { address } of addressesOf(other)) assert.equal(await probe(address, firstPort), 'refused', address);
    }

    // When the Service is deleted, the port closes on every node
    const deleting = performance.now();
    await kube.delete({ apiVersion: 'v1', kind: 'Service', namespace: ns, name: 'ssh' });
    await waitFor(async () => ((await probe(external, firstPort)) === 'refused' ? true : undefined), {
      what: `${external}:${firstPort} to refuse`,
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    t.diagnostic(`Service deleted -> NodePort refused: ${Math.round(performance.now() - deleting)} ms`);
    assert.equal(await probe(internal, firstPort), 'refused');
  });

  test('a Service whose selector picks nothing has no endpoints and its NodePort refuses, until the selector is fixed', {
    timeout: 60_000,
  }, async () => {
    // Given a Cluster NodePort whose selector names the role wrong
    const port = firstPort + 1;
    const wrong = { 'breakfix.dev/lab': ns, 'breakfix.dev/role': 'controlplane' };
    await kube.apply(nodePortService('wrong', port, { selector: wrong, policy: 'Cluster' }));

    // Then its EndpointSlice lists nothing and every node refuses the port
    const slice = await sliceOf('wrong');
    assert.deepEqual(slice.endpoints ?? [], []);
    for (const node of nodes) {
      for (const { address } of addressesOf(node)) assert.equal(await probe(address, port), 'refused', address);
    }

    // When the selector is fixed, every node forwards it (Cluster), which proves the refusal was the selector's
    await kube.apply(nodePortService('wrong', port, { policy: 'Cluster' }));
    for (const node of nodes) {
      const address = addressesOf(node)[0]?.address ?? assert.fail('a node address');
      const session = await waitFor(() => login(address, port).catch(() => undefined), {
        what: `an SSH login at ${address}:${port}`,
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      assert.equal(session.stdout, 'cp\n');
    }
  });

  test('a wrong targetPort gets endpoints, but the guest answers nothing there', { timeout: 60_000 }, async () => {
    const port = firstPort + 2;
    await kube.apply(nodePortService('wrong-port', port, { targetPort: 2222 }));
    const slice = await waitFor(
      async () => {
        const found = await sliceOf('wrong-port');
        return (found.endpoints ?? []).length > 0 ? found : undefined;
      },
      { what: 'an endpoint for wrong-port', timeoutMs: 30_000, intervalMs: 100 },
    );
    assert.equal(slice.ports?.[0]?.port, 2222);
    const node = addressesOf(nodeOf(pod.spec?.nodeName))[0]?.address ?? assert.fail('a node address');
    await waitFor(async () => ((await probe(node, port)) === 'open' ? true : undefined), {
      what: `${node}:${port} to be served`,
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    // The connection reaches the guest's port 2222, where nothing listens: no SSH
    await assert.rejects(login(node, port), /ECONNRESET|before handshake|Connection lost/);
  });

  test("a deleted launcher pod's address leaves its Services, and their NodePorts close", {
    timeout: 120_000,
  }, async () => {
    // Given a working NodePort to the VM
    const port = firstPort + 3;
    await kube.apply(nodePortService('ssh-again', port));
    const node = addressesOf(nodeOf(pod.spec?.nodeName))[0]?.address ?? assert.fail('a node address');
    await waitFor(() => login(node, port).catch(() => undefined), {
      what: `an SSH login at ${node}:${port}`,
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    // When the VM is deleted (its launcher pod with it)
    await kube.delete({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', namespace: ns, name: 'cp' });
    // Then the pod's address goes from the EndpointSlice and the NodePort refuses
    await waitFor(
      async () => {
        const slice = await sliceOf('ssh-again');
        return (slice.endpoints ?? []).every((e) => !e.addresses.includes(pod.status?.podIP ?? '')) ? true : undefined;
      },
      { what: "the pod's address to leave the EndpointSlice", timeoutMs: 90_000, intervalMs: 200 },
    );
    await waitFor(async () => ((await probe(node, port)) === 'refused' ? true : undefined), {
      what: `${node}:${port} to refuse`,
      timeoutMs: 10_000,
      intervalMs: 50,
    });
  });
});
