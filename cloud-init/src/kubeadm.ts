import { stringify } from 'yaml';
import type { NodeBootstrap } from './types.js';

const CRI_SOCKET = 'unix:///var/run/containerd/containerd.sock';

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
    // The golden image carries every image kubeadm needs; labs boot with no registry access.
    imagePullPolicy: 'IfNotPresent',
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
    timeouts: { discovery: '5m0s', tlsBootstrap: '5m0s' },
  };
}
