import { type NodeBootstrap, renderUserData } from '@breakfix/cloud-init';
import type { KubeObject } from '@breakfix/kube';
import type { LabSecrets } from '@breakfix/secrets';
import { LAUNCHER_SIDECARS, type NodeRole, type NodeSize, SIZE_PROFILES, VM_OVERHEAD_MIB } from './catalog.js';
import { INSTANCE_LABEL, labLabels } from './instance.js';
import type { LabSpec, PlatformConfig } from './spec.js';
import { POD_INTERFACE } from './vmi-status.js';

export const LABELS = {
  lab: 'breakfix.dev/lab',
  role: 'breakfix.dev/role',
  node: 'breakfix.dev/node',
  managedBy: 'app.kubernetes.io/managed-by',
  /** The install that owns the lab (platform config `instance`; docs/adr/0029). */
  instance: INSTANCE_LABEL,
} as const;

export interface LabNode {
  name: string;
  role: NodeRole;
  size: NodeSize;
  /** Our labels, set on the VM template so they reach the VMI and its virt-launcher pod. */
  labels: Record<string, string>;
}

/** What an addon (NetworkPolicies, say) needs to know about the lab it adds objects to. */
export interface LabContext {
  spec: LabSpec;
  platform: PlatformConfig;
  namespace: string;
  /** Labels every object of the lab carries. */
  labels: Record<string, string>;
  nodes: readonly LabNode[];
}

/** Adds objects to a rendered lab; they are placed after the lab's Services and before its VMs. */
export type LabAddon = (lab: LabContext) => KubeObject[];

export interface RenderOptions {
  addons?: readonly LabAddon[];
}

export function labNamespace(spec: Pick<LabSpec, 'labId'>, platform: Pick<PlatformConfig, 'namespacePrefix'>): string {
  return `${platform.namespacePrefix}${spec.labId}`;
}

/**
 * `cp`, `w1` ... `wN`: the names `kubectl get nodes` shows learners, the names scenarios use
 * (`on: w1`), the VM, host, Secret and per-node Service names (docs/adr/0012).
 */
export function labNodes(spec: LabSpec): LabNode[] {
  const profile = SIZE_PROFILES[spec.size];
  const node = (name: string, role: NodeRole): LabNode => ({
    name,
    role,
    size: profile[role],
    labels: { [LABELS.lab]: spec.labId, [LABELS.role]: role, [LABELS.node]: name },
  });
  return [node('cp', 'control-plane'), ...Array.from({ length: spec.workers }, (_, i) => node(`w${i + 1}`, 'worker'))];
}

/**
 * Renders one lab as the ordered list of objects to apply: Namespace, ResourceQuota, LimitRange,
 * one cloud-init Secret per node, the `cp-api` Service, one headless Service per node (its name),
 * whatever the addons add, then one VirtualMachine per node. Pure: the same inputs give the same
 * objects.
 */
export function renderLab(
  spec: LabSpec,
  platform: PlatformConfig,
  secrets: LabSecrets,
  options: RenderOptions = {},
): KubeObject[] {
  const namespace = labNamespace(spec, platform);
  const labels = labLabels(spec.labId, platform);
  const nodes = labNodes(spec);
  const context: LabContext = { spec, platform, namespace, labels, nodes };
  const endpointHost = `cp-api.${namespace}.svc.${platform.hostClusterDomain}`;

  const secretsPerNode = nodes.map((node) =>
    cloudInitSecret(namespace, labels, node, {
      role: node.role,
      hostname: node.name,
      clusterName: spec.labId,
      kubernetesVersion: spec.release.version,
      kubeadmApiVersion: spec.release.kubeadmApiVersion,
      controlPlaneEndpoint: `${endpointHost}:6443`,
      certSANs: ['cp-api', `cp-api.${namespace}`, `cp-api.${namespace}.svc`, endpointHost],
      podSubnet: platform.nested.podSubnet,
      serviceSubnet: platform.nested.serviceSubnet,
      bootstrapToken: secrets.bootstrapToken,
      caCertHash: secrets.caCertHash,
      ...(node.role === 'control-plane' ? { ca: secrets.ca } : {}),
      expectedNodes: nodes.length,
      hostKey: hostKeyOf(secrets, node.name),
      operator: { user: platform.operator.user, authorizedKeys: [platform.operator.publicKey] },
      learner: { user: platform.learner.user },
      cni: spec.cni,
      taintControlPlane: spec.workers > 0,
      bootstrapTimeoutSeconds: platform.bootstrapTimeoutSeconds,
    }),
  );

  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: namespace,
        labels: {
          ...labels,
          // virt-launcher pods are privileged workloads (KubeVirt's PSA integration labels VM
          // namespaces the same way); warn and audit at baseline so anything else stands out.
          'pod-security.kubernetes.io/enforce': 'privileged',
          'pod-security.kubernetes.io/warn': 'baseline',
          'pod-security.kubernetes.io/audit': 'baseline',
        },
      },
    },
    resourceQuota(namespace, labels, nodes),
    limitRange(namespace, labels),
    ...secretsPerNode,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'cp-api', namespace, labels },
      spec: {
        type: 'ClusterIP',
        selector: { [LABELS.lab]: spec.labId, [LABELS.role]: 'control-plane' },
        ports: [{ name: 'https', port: 6443, targetPort: 6443, protocol: 'TCP' }],
        // kubeadm init talks to its own endpoint before the API server is Ready.
        publishNotReadyAddresses: true,
      },
    },
    ...nodes.map((node) => nodeService(namespace, labels, spec.labId, node)),
    ...(options.addons ?? []).flatMap((addon) => addon(context)),
    ...nodes.map((node) => virtualMachine(spec, platform, namespace, labels, node)),
  ];
}

function hostKeyOf(secrets: LabSecrets, node: string) {
  const key = secrets.hostKeys[node];
  if (key === undefined) throw new Error(`lab secrets have no host key for node ${node}`);
  return key;
}

function cloudInitSecret(
  namespace: string,
  labels: Record<string, string>,
  node: LabNode,
  bootstrap: NodeBootstrap,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `${node.name}-cloud-init`, namespace, labels: { ...labels, [LABELS.node]: node.name } },
    type: 'Opaque',
    // KubeVirt reads the key `userdata` (cloudInitNoCloud.secretRef); inline user-data is capped at 2048 bytes.
    stringData: { userdata: renderUserData(bootstrap) },
  };
}

/**
 * A headless Service named after the node, selecting that node's virt-launcher pod: on KubeVirt
 * (bridge binding) the pod's address is the guest's, so `<node>.<ns>.svc.<domain>` resolves to the
 * VM, and so does plain `<node>` inside the lab, whose DHCP search list starts with
 * `<ns>.svc.<domain>` (https://kubevirt.io/user-guide/network/interfaces_and_networks/). This is
 * how `ssh w1` works from the control plane. Not-ready addresses are published: the launcher pod
 * is Ready only once the VMI is, and a node must resolve while the lab boots.
 */
function nodeService(namespace: string, labels: Record<string, string>, labId: string, node: LabNode): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: node.name, namespace, labels: { ...labels, [LABELS.node]: node.name } },
    spec: {
      clusterIP: 'None',
      selector: { [LABELS.lab]: labId, [LABELS.node]: node.name },
      // A port is not needed for the A record; SSH is what the name is for.
      ports: [{ name: 'ssh', port: 22, targetPort: 22, protocol: 'TCP' }],
      publishNotReadyAddresses: true,
    },
  };
}

/** Memory a node's compute container requests: the guest's request plus KubeVirt's overhead. */
export function podMemoryMiB(size: NodeSize): number {
  return size.requestMemoryMiB + VM_OVERHEAD_MIB;
}

/**
 * What a node's whole virt-launcher pod requests: the compute container (the VM's CPU request,
 * guest memory plus overhead) and KubeVirt's support containers (LAUNCHER_SIDECARS). The lab's
 * quota and the capacity guard both count this.
 */
export function launcherPodRequests(size: NodeSize): { cpuMilli: number; memoryMiB: number } {
  return {
    cpuMilli: size.cpuRequestMilli + LAUNCHER_SIDECARS.cpuMilli,
    memoryMiB: podMemoryMiB(size) + LAUNCHER_SIDECARS.memoryMiB,
  };
}

function resourceQuota(namespace: string, labels: Record<string, string>, nodes: readonly LabNode[]): KubeObject {
  const memory = nodes.reduce((sum, node) => sum + launcherPodRequests(node.size).memoryMiB, 0);
  const cpu = nodes.reduce((sum, node) => sum + launcherPodRequests(node.size).cpuMilli, 0);
  return {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: { name: 'lab', namespace, labels },
    spec: {
      hard: {
        'requests.memory': `${memory}Mi`,
        'requests.cpu': `${cpu}m`,
        // One virt-launcher per VM, plus room for a replacement while the old one terminates.
        pods: String(nodes.length * 2),
        'count/virtualmachines.kubevirt.io': String(nodes.length),
        'count/virtualmachineinstances.kubevirt.io': String(nodes.length),
        secrets: String(nodes.length + 2),
        // cp-api, one headless Service per node, and the SSH Service a claim adds.
        services: String(nodes.length + 2),
        'services.nodeports': '1',
        'services.loadbalancers': '0',
        persistentvolumeclaims: '0',
      },
    },
  };
}

function limitRange(namespace: string, labels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'LimitRange',
    metadata: { name: 'lab', namespace, labels },
    spec: {
      // Requests only: a default *limit* would cap virt-launcher below what its VM needs.
      limits: [{ type: 'Container', defaultRequest: { cpu: '50m', memory: '64Mi' } }],
    },
  };
}

function virtualMachine(
  spec: LabSpec,
  platform: PlatformConfig,
  namespace: string,
  labels: Record<string, string>,
  node: LabNode,
): KubeObject {
  const bandwidth: Record<string, string> = {};
  if (spec.bandwidth?.ingress !== undefined) bandwidth['kubernetes.io/ingress-bandwidth'] = spec.bandwidth.ingress;
  if (spec.bandwidth?.egress !== undefined) bandwidth['kubernetes.io/egress-bandwidth'] = spec.bandwidth.egress;
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name: node.name, namespace, labels: { ...labels, ...node.labels } },
    spec: {
      // Once: KubeVirt starts the VMI and never restarts it when it ends (Failed or Succeeded).
      // Always would silently replace a lost VMI with a fresh containerDisk and a fresh cluster:
      // learner key, break and NodePort gone. A guest-initiated reboot keeps the same VMI and is
      // fine. A VMI someone deletes is started again under Once too (KubeVirt's vm.go starts a VMI
      // whenever none exists), so the pool also compares VMI uids (docs/adr/0012;
      // https://kubevirt.io/user-guide/compute/run_strategies/).
      runStrategy: 'Once',
      template: {
        metadata: {
          labels: { ...labels, ...node.labels },
          ...(Object.keys(bandwidth).length > 0 ? { annotations: bandwidth } : {}),
        },
        spec: {
          hostname: node.name,
          // Bridge binding on the pod network cannot live-migrate; a drained node ends the lab
          // rather than hanging the drain.
          evictionStrategy: 'None',
          terminationGracePeriodSeconds: 0,
          domain: {
            // The golden image boots from its EFI system partition (a unified kernel image, no
            // boot loader): KubeVirt's default SeaBIOS finds nothing to boot on it, and Secure
            // Boot (on by default under `efi`) refuses its unsigned stub (docs/adr/0020;
            // https://kubevirt.io/user-guide/compute/virtual_hardware/#biosuefi).
            firmware: { bootloader: { efi: { secureBoot: false } } },
            cpu: { cores: node.size.cores },
            memory: { guest: `${node.size.memoryMiB}Mi` },
            // A request below the guest's memory is KubeVirt's memory overcommit (docs/adr/0030).
            resources: {
              requests: { cpu: `${node.size.cpuRequestMilli}m`, memory: `${node.size.requestMemoryMiB}Mi` },
            },
            devices: {
              disks: [
                { name: 'root', disk: { bus: 'virtio' } },
                { name: 'cloud-init', disk: { bus: 'virtio' } },
              ],
              // bridge, never masquerade: with masquerade every guest is 10.0.2.2 and kubeadm's
              // nodes share one address (https://kubevirt.io/user-guide/network/interfaces_and_networks/).
              interfaces: [{ name: POD_INTERFACE, bridge: {} }],
              rng: {},
            },
          },
          networks: [{ name: POD_INTERFACE, pod: {} }],
          volumes: [
            { name: 'root', containerDisk: { image: `${platform.imageRepository}:${spec.release.imageTag}` } },
            { name: 'cloud-init', cloudInitNoCloud: { secretRef: { name: `${node.name}-cloud-init` } } },
          ],
        },
      },
    },
  };
}
