import { stringify } from 'yaml';
import { IMAGE_PATHS, type NodeBootstrap } from './types.js';

const CRI_SOCKET = 'unix:///var/run/containerd/containerd.sock';

/**
 * A lab has exactly one control plane, so its controller manager and scheduler have nobody to
 * elect. With leader election on, a slow guest costs minutes: the controller manager takes its
 * lease, gives up on an apiserver still running its post-start hooks (a hard-coded 10 s wait),
 * exits, and its restart waits out the lease it never released — while flannel, kube-proxy and
 * CoreDNS wait for its DaemonSet and Deployment controllers. Renewals that miss their deadline
 * under emulation restart them again. Shipped in every lab (ADR 0014): what we test is what we ship.
 */
const singleControlPlane = () => [{ name: 'leader-elect', value: 'false' }];

/**
 * Static pods' probes, raised for slow guests (same ADR): stock limits restart a busy apiserver.
 * A patch may only tune probes kubeadm writes (a probe without a handler is an invalid pod):
 * all four have startup and liveness probes; the controller manager has no readiness probe.
 */
const PROBES = {
  startupProbe: { failureThreshold: 120, timeoutSeconds: 30 },
  livenessProbe: { failureThreshold: 30, timeoutSeconds: 30 },
};
const READY = { readinessProbe: { timeoutSeconds: 30 } };
const STATIC_PODS = {
  etcd: { ...PROBES, ...READY },
  'kube-apiserver': { ...PROBES, ...READY },
  'kube-controller-manager': PROBES,
  'kube-scheduler': { ...PROBES, ...READY },
} as const;

/**
 * kubeadm patches (strategic merge, one file per static pod) for the directory the
 * InitConfiguration names (https://kubernetes.io/docs/setup/production-environment/tools/kubeadm/control-plane-flags/#patches).
 */
export function kubeadmPatches(): { file: string; content: string }[] {
  return Object.entries(STATIC_PODS).map(([name, probes]) => ({
    file: `${name}.yaml`,
    content: stringify({ spec: { containers: [{ name, ...probes }] } }, { lineWidth: 0 }),
  }));
}

/**
 * The kubeadm configuration of a node, as a multi-document YAML file
 * (https://kubernetes.io/docs/reference/config-api/kubeadm-config.v1beta4/).
 */
export function kubeadmConfig(node: NodeBootstrap): string {
  const docs = node.role === 'control-plane' ? controlPlaneDocs(node) : [joinConfiguration(node)];
  return docs.map((doc) => stringify(doc, { lineWidth: 0 })).join('---\n');
}

function nodeRegistration(node: NodeBootstrap) {
  return {
    name: node.hostname,
    criSocket: CRI_SOCKET,
    // The golden image carries every image kubeadm needs; labs boot with no registry access, so
    // a missing image must fail at once rather than wait on a pull that cannot succeed.
    imagePullPolicy: 'Never',
    ...(node.role === 'control-plane' && !node.taintControlPlane ? { taints: [] } : {}),
  };
}

function controlPlaneDocs(node: NodeBootstrap): object[] {
  const [host] = node.controlPlaneEndpoint.split(':');
  return [
    {
      apiVersion: node.kubeadmApiVersion,
      kind: 'InitConfiguration',
      bootstrapTokens: [
        {
          token: node.bootstrapToken,
          description: 'breakfix: workers of this lab join with it',
          ttl: '24h0m0s',
          usages: ['signing', 'authentication'],
          groups: ['system:bootstrappers:kubeadm:default-node-token'],
        },
      ],
      nodeRegistration: nodeRegistration(node),
      localAPIEndpoint: { bindPort: 6443 },
      patches: { directory: IMAGE_PATHS.kubeadmPatches },
      // Emulated guests bring the control plane up in minutes, not seconds; the bootstrap's own
      // deadline is what decides failure.
      timeouts: { controlPlaneComponentHealthCheck: '30m0s', kubeletHealthCheck: '10m0s', kubernetesAPICall: '30m0s' },
    },
    {
      apiVersion: node.kubeadmApiVersion,
      kind: 'ClusterConfiguration',
      clusterName: node.clusterName,
      kubernetesVersion: node.kubernetesVersion,
      controlPlaneEndpoint: node.controlPlaneEndpoint,
      encryptionAlgorithm: 'ECDSA-P256',
      networking: { podSubnet: node.podSubnet, serviceSubnet: node.serviceSubnet, dnsDomain: 'cluster.local' },
      apiServer: { certSANs: [...new Set([host, ...node.certSANs])] },
      controllerManager: { extraArgs: singleControlPlane() },
      scheduler: { extraArgs: singleControlPlane() },
    },
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      cgroupDriver: 'systemd',
      // Learners see real evictions when they fill a disk, not a node that dies first.
      evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '5%', 'imagefs.available': '5%' },
    },
    {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: 'iptables',
    },
  ];
}

function joinConfiguration(node: NodeBootstrap): object {
  return {
    apiVersion: node.kubeadmApiVersion,
    kind: 'JoinConfiguration',
    discovery: {
      bootstrapToken: {
        apiServerEndpoint: node.controlPlaneEndpoint,
        token: node.bootstrapToken,
        caCertHashes: [node.caCertHash],
      },
    },
    nodeRegistration: nodeRegistration(node),
    timeouts: { discovery: '10m0s', tlsBootstrap: '10m0s', kubeletHealthCheck: '10m0s' },
  };
}
