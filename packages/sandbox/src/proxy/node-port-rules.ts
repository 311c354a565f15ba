import type { KubeObject } from '@breakfix/kube';

/** What kube-proxy reads of a Service. */
export interface ServiceObject extends KubeObject {
  spec?: {
    type?: string;
    externalTrafficPolicy?: string;
    ports?: { name?: string; protocol?: string; port?: number; nodePort?: number }[];
  };
}

/** What kube-proxy reads of an EndpointSlice (discovery.k8s.io/v1). */
export interface EndpointSliceObject extends KubeObject {
  addressType?: string;
  endpoints?: { addresses?: string[]; nodeName?: string; conditions?: { ready?: boolean | null } }[] | null;
  ports?: { name?: string | null; protocol?: string; port?: number }[] | null;
}

/** A node as kube-proxy on it sees itself: its name and the addresses it serves NodePorts on. */
export interface ProxyNode {
  name: string;
  addresses: readonly string[];
}

/** An endpoint a NodePort forwards to: a pod address and the Service port's target there. */
export interface Backend {
  address: string;
  port: number;
}

/** One NodePort on one node address, and where its connections go. */
export interface NodePortRule {
  /** `namespace/name:port-name` of the Service port, for logs. */
  service: string;
  address: string;
  nodePort: number;
  /** `Cluster` or `Local`: who the pod sees as the source (the node, or the client). */
  policy: 'Cluster' | 'Local';
  backends: Backend[];
}

/** The label the EndpointSlice controller puts on a Service's slices. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * kube-proxy's NodePort rules, as its iptables proxier writes them (pkg/proxy/iptables/proxier.go):
 * every node serves each TCP NodePort of a NodePort or LoadBalancer Service that has ready
 * endpoints, forwarding to one of them at the Service port's target; with
 * `externalTrafficPolicy: Local` only to the endpoints on that node. A node with nothing to forward
 * to gets no rule: kube-proxy REJECTs a Service without endpoints (the client's connect is
 * refused) and DROPs external traffic for a Local Service without a local endpoint (the client
 * waits for nothing; here it is refused too, sooner — ADR 0031). Endpoints count when their
 * `ready` condition is not false (nil means ready); terminating ones are not used.
 */
export function nodePortRules(
  services: readonly ServiceObject[],
  slices: readonly EndpointSliceObject[],
  nodes: readonly ProxyNode[],
): NodePortRule[] {
  const rules: NodePortRule[] = [];
  for (const service of services) {
    const type = service.spec?.type;
    if (type !== 'NodePort' && type !== 'LoadBalancer') continue;
    const namespace = service.metadata.namespace ?? '';
    const own = slices.filter(
      (slice) =>
        slice.metadata.namespace === namespace &&
        slice.metadata.labels?.[SERVICE_NAME_LABEL] === service.metadata.name &&
        (slice.addressType ?? 'IPv4') === 'IPv4',
    );
    const policy = service.spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster';
    for (const servicePort of service.spec?.ports ?? []) {
      const protocol = servicePort.protocol ?? 'TCP';
      if (servicePort.nodePort === undefined || protocol !== 'TCP') continue;
      // The slice's port of the same name carries the target port, resolved per pod.
      const name = servicePort.name ?? '';
      const ready: (Backend & { nodeName?: string })[] = [];
      const seen = new Set<string>();
      for (const slice of own) {
        const port = (slice.ports ?? []).find((p) => (p.name ?? '') === name && (p.protocol ?? 'TCP') === protocol);
        if (port?.port === undefined) continue;
        for (const endpoint of slice.endpoints ?? []) {
          if (endpoint.conditions?.ready === false) continue;
          const address = endpoint.addresses?.[0];
          if (address === undefined || seen.has(address)) continue;
          seen.add(address);
          ready.push({
            address,
            port: port.port,
            ...(endpoint.nodeName === undefined ? {} : { nodeName: endpoint.nodeName }),
          });
        }
      }
      for (const node of nodes) {
        const backends = ready
          .filter((backend) => policy === 'Cluster' || backend.nodeName === node.name)
          .map(({ address, port }) => ({ address, port }));
        if (backends.length === 0) continue;
        for (const address of node.addresses) {
          rules.push({
            service: `${namespace}/${service.metadata.name}:${name}`,
            address,
            nodePort: servicePort.nodePort,
            policy,
            backends,
          });
        }
      }
    }
  }
  return rules;
}
