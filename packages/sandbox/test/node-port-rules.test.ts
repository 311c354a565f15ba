import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type EndpointSliceObject,
  nodePortRules,
  type ProxyNode,
  type ServiceObject,
} from '../src/proxy/node-port-rules.js';

const NODES: ProxyNode[] = [
  { name: 'sim-node-1', addresses: ['127.70.255.1', '127.70.254.1'] },
  { name: 'sim-node-2', addresses: ['127.70.255.2', '127.70.254.2'] },
];

function service(spec: ServiceObject['spec'], name = 'ssh', namespace = 'lab'): ServiceObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec };
}

function slice(
  endpoints: NonNullable<EndpointSliceObject['endpoints']>,
  options: { service?: string; namespace?: string; port?: number; portName?: string } = {},
): EndpointSliceObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${options.service ?? 'ssh'}-abcde`,
      namespace: options.namespace ?? 'lab',
      labels: { 'kubernetes.io/service-name': options.service ?? 'ssh' },
    },
    addressType: 'IPv4',
    endpoints,
    ports: [{ name: options.portName ?? 'ssh', protocol: 'TCP', port: options.port ?? 22 }],
  };
}

const nodePort = (policy: string, extra: Partial<NonNullable<ServiceObject['spec']>> = {}) =>
  service({
    type: 'NodePort',
    externalTrafficPolicy: policy,
    ports: [{ name: 'ssh', protocol: 'TCP', port: 22, nodePort: 30022 }],
    ...extra,
  });
const onNode1 = { addresses: ['10.244.0.2'], nodeName: 'sim-node-1', conditions: { ready: true } };
const onNode2 = { addresses: ['10.244.0.3'], nodeName: 'sim-node-2', conditions: { ready: true } };

/** `address -> backends` of every rule, for comparing. */
const served = (rules: ReturnType<typeof nodePortRules>) =>
  Object.fromEntries(
    rules.map((r) => [`${r.address}:${r.nodePort}`, r.backends.map((b) => `${b.address}:${b.port}`).join(',')]),
  );

describe("kube-proxy's NodePort rules", () => {
  const cases: {
    name: string;
    services: ServiceObject[];
    slices: EndpointSliceObject[];
    want: Record<string, string>;
  }[] = [
    {
      name: 'Cluster: every node address forwards to every ready endpoint',
      services: [nodePort('Cluster')],
      slices: [slice([onNode1, onNode2])],
      want: {
        '127.70.255.1:30022': '10.244.0.2:22,10.244.0.3:22',
        '127.70.254.1:30022': '10.244.0.2:22,10.244.0.3:22',
        '127.70.255.2:30022': '10.244.0.2:22,10.244.0.3:22',
        '127.70.254.2:30022': '10.244.0.2:22,10.244.0.3:22',
      },
    },
    {
      name: 'Local: only the node with a local endpoint serves, to that endpoint',
      services: [nodePort('Local')],
      slices: [slice([onNode1])],
      want: { '127.70.255.1:30022': '10.244.0.2:22', '127.70.254.1:30022': '10.244.0.2:22' },
    },
    {
      name: 'no slice (a selector that picks nothing): no node serves (kube-proxy rejects)',
      services: [nodePort('Cluster')],
      slices: [],
      want: {},
    },
    {
      name: 'a slice with no endpoints: no node serves',
      services: [nodePort('Cluster')],
      slices: [slice([])],
      want: {},
    },
    {
      name: 'unready endpoints are not used; nil readiness counts as ready',
      services: [nodePort('Cluster')],
      slices: [
        slice([
          { ...onNode1, conditions: { ready: false } },
          { ...onNode2, conditions: {} },
        ]),
      ],
      want: {
        '127.70.255.1:30022': '10.244.0.3:22',
        '127.70.254.1:30022': '10.244.0.3:22',
        '127.70.255.2:30022': '10.244.0.3:22',
        '127.70.254.2:30022': '10.244.0.3:22',
      },
    },
    {
      name: "the target port is the slice's port of the Service port's name",
      services: [nodePort('Local')],
      slices: [slice([onNode1], { port: 2222 })],
      want: { '127.70.255.1:30022': '10.244.0.2:2222', '127.70.254.1:30022': '10.244.0.2:2222' },
    },
    {
      name: "another Service's slice, or one of another namespace, is not this Service's",
      services: [nodePort('Cluster')],
      slices: [slice([onNode1], { service: 'cp-api' }), slice([onNode1], { namespace: 'other' })],
      want: {},
    },
    {
      name: 'ClusterIP Services and UDP ports get no NodePort',
      services: [
        service({ type: 'ClusterIP', ports: [{ name: 'ssh', port: 22 }] }),
        nodePort('Cluster', { ports: [{ name: 'ssh', protocol: 'UDP', port: 22, nodePort: 30022 }] }),
      ],
      slices: [slice([onNode1])],
      want: {},
    },
  ];
  for (const { name, services, slices, want } of cases) {
    test(name, { timeout: 5_000 }, () => {
      assert.deepEqual(served(nodePortRules(services, slices, NODES)), want);
    });
  }

  test('rules say the policy, so the proxy knows whose address the pod sees', { timeout: 5_000 }, () => {
    const [local] = nodePortRules([nodePort('Local')], [slice([onNode1])], NODES);
    const [cluster] = nodePortRules([nodePort('Cluster')], [slice([onNode1])], NODES);
    assert.equal(local?.policy, 'Local');
    assert.equal(cluster?.policy, 'Cluster');
    assert.equal(local?.service, 'lab/ssh:ssh');
  });
});
