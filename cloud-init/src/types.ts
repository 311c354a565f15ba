/** Everything a lab node needs to boot into its kubeadm cluster; rendered into cloud-init user-data. */
export interface NodeBootstrap {
  role: 'control-plane' | 'worker';
  /** Node and host name, e.g. `cp` or `worker-1`. */
  hostname: string;
  /** Lab id, used as the nested cluster's name. */
  clusterName: string;
  /** Full Kubernetes version the golden image carries, e.g. `v1.36.3`. */
  kubernetesVersion: string;
  kubeadmApiVersion: 'kubeadm.k8s.io/v1beta4';
  /** `cp-api.<namespace>.svc.cluster.local:6443` — the Service in front of the control plane VM. */
  controlPlaneEndpoint: string;
  /** Extra names for the API server certificate (the Service's short forms). */
  certSANs: readonly string[];
  podSubnet: string;
  serviceSubnet: string;
  /** `abcdef.0123456789abcdef` */
  bootstrapToken: string;
  /** `sha256:<hex>` of the CA's DER SubjectPublicKeyInfo. */
  caCertHash: string;
  /** The cluster CA, written before `kubeadm init` so kubeadm reuses it (control plane only). */
  ca?: { certPem: string; keyPem: string };
  /** Nodes the control plane waits for before it writes the readiness marker. */
  expectedNodes: number;
  /** The node's SSH host key (OpenSSH ed25519), pinned by breakfix's SSH runner. */
  hostKey: { privateKey: string; publicKey: string };
  /** The account breakfix logs in with (sudo, no password). */
  operator: { user: string; authorizedKeys: readonly string[] };
  /**
   * The learner's account (sudo, no password, no key at boot): breakfix installs the learner's
   * key at claim time into `learnerKeysDir/<user>` and removes it at release.
   */
  learner: { user: string };
  cni: 'flannel' | 'calico';
  /** Keep the control-plane taint (true when there are workers to schedule on). */
  taintControlPlane: boolean;
  /** How long the node may take to join / to see all nodes Ready before it reports failure. */
  bootstrapTimeoutSeconds: number;
}

/** Files the golden image provides (images/), which user-data relies on. */
export const IMAGE_PATHS = {
  cniManifests: '/opt/breakfix/cni',
  /** Written once all expected nodes are Ready; the provisioner probes it over SSH. */
  readyMarker: '/var/lib/breakfix/ready',
  failedMarker: '/var/lib/breakfix/failed',
  bootstrapLog: '/var/log/breakfix-bootstrap.log',
  kubeadmConfig: '/etc/breakfix/kubeadm.yaml',
  kubeadmPatches: '/etc/breakfix/kubeadm-patches',
  bootstrapScript: '/usr/local/sbin/breakfix-bootstrap',
  /** Runs the bootstrap again on the next boot when a restart interrupted it (user-data writes it). */
  bootstrapResumeUnit: '/etc/systemd/system/breakfix-bootstrap-resume.service',
  /** Root-owned keys sshd also reads (`AuthorizedKeysFile`), one file per user: the learner's key at claim. */
  learnerKeysDir: '/etc/ssh/breakfix-keys',
  sshdDropIn: '/etc/ssh/sshd_config.d/60-breakfix.conf',
} as const;
