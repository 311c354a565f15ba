import type { KubeObject } from '@breakfix/kube';
import { LABELS, type PlatformConfig } from '@breakfix/manifests';

/** What the analyzer reads: namespaces, workloads and NetworkPolicies. */
export interface ClusterModel {
  namespaces: KubeObject[];
  pods: KubeObject[];
  policies: KubeObject[];
  /** lab id -> what the lab asked for, to check egress against. */
  labs: Map<string, { namespace: string; egress: 'none' | 'internet' }>;
}

const NAME_LABEL = 'kubernetes.io/metadata.name';

/**
 * Builds the cluster an analyzer sees from rendered labs plus the host's own workloads (the
 * platform's pods and kube-dns). The analyzer knows Pods, not KubeVirt VMs, so each VM is modelled
 * as its virt-launcher Pod: same namespace, the template's labels, which is exactly what
 * NetworkPolicies select on a real cluster.
 */
export function modelCluster(
  labs: readonly { labId: string; egress: 'none' | 'internet'; objects: readonly KubeObject[] }[],
  platform: PlatformConfig,
): ClusterModel {
  const model: ClusterModel = { namespaces: [], pods: [], policies: [], labs: new Map() };
  const namespace = (name: string, labels: Record<string, string> = {}) =>
    model.namespaces.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { ...labels, [NAME_LABEL]: name } },
    });
  const pod = (ns: string, name: string, labels: Record<string, string>) =>
    model.pods.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns, labels },
      spec: { containers: [{ name: 'main', image: 'example.invalid/model:1' }] },
    });

  for (const lab of labs) {
    for (const object of lab.objects) {
      if (object.kind === 'Namespace') {
        namespace(object.metadata.name, object.metadata.labels);
        model.labs.set(lab.labId, { namespace: object.metadata.name, egress: lab.egress });
      }
      if (object.kind === 'NetworkPolicy') model.policies.push(object);
      if (object.kind === 'VirtualMachine') {
        const template = (object.spec as { template: { metadata: { labels: Record<string, string> } } }).template;
        pod(object.metadata.namespace ?? '', `virt-launcher-${object.metadata.name}`, template.metadata.labels);
      }
    }
  }
  namespace(platform.platformNamespace);
  pod(platform.platformNamespace, 'pool-worker', { 'app.kubernetes.io/name': 'pool-worker' });
  pod(platform.platformNamespace, 'orchestrator', { 'app.kubernetes.io/name': 'orchestrator' });
  namespace(platform.dns.namespace);
  pod(platform.dns.namespace, 'coredns', platform.dns.podLabels);
  pod(platform.dns.namespace, 'kube-proxy', { 'k8s-app': 'kube-proxy' });
  namespace('default');
  pod('default', 'some-app', { app: 'some-app' });
  return model;
}

/** The lab a namespace belongs to, from its labels. */
export function labOf(model: ClusterModel, namespace: string): string | undefined {
  return model.namespaces.find((ns) => ns.metadata.name === namespace)?.metadata.labels?.[LABELS.lab];
}
