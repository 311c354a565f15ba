// What the node image and its cloud-init provide, for code that works on nodes over SSH.
export { IMAGE_PATHS } from '@breakfix/cloud-init';
export {
  type Footprint,
  type HostCapacity,
  type LabShape,
  labFootprint,
  labsPerHost,
  measuredLabMemoryMiB,
  parseMemoryMiB,
} from './capacity.js';
export {
  DEFAULT_KUBERNETES_MINOR,
  findRelease,
  KUBERNETES_RELEASES,
  type KubernetesRelease,
  LAUNCHER_SIDECARS,
  MAX_WORKERS,
  MEASURED_HEADROOM,
  MEASURED_NODE_MEMORY,
  type NodeRole,
  type NodeSize,
  SIZE_PROFILES,
  type SizeProfileName,
  VM_OVERHEAD_MIB,
} from './catalog.js';
export { type Ipv4Range, overlaps, parseCidr } from './cidr.js';
export {
  DEFAULT_INSTANCE,
  INSTANCE_LABEL,
  INSTANCE_NAME,
  type InstanceOwnership,
  isOwnLab,
  labLabels,
} from './instance.js';
export { accessPorts, isolationPolicies, METADATA_CIDR, SSH_SERVICE_NAME, sshService } from './isolation.js';
export {
  type ContainerResources,
  type DomainForOverhead,
  EPHEMERAL_STORAGE_OVERHEAD_BYTES,
  LAUNCHER_CONTAINERS,
  launcherMemoryOverheadBytes,
  parseQuantity,
  type VmiSpecForOverhead,
  vcpus,
} from './kubevirt-launcher.js';
export { idleRule, type PoolConfig, parsePoolsConfig } from './pools-config.js';
export {
  LABELS,
  type LabAddon,
  type LabContext,
  type LabNode,
  labNamespace,
  labNodes,
  launcherPodRequests,
  podMemoryMiB,
  type RenderOptions,
  renderLab,
} from './render.js';
export {
  CNIS,
  type Cni,
  hostRanges,
  type LabSpec,
  type LabSpecInput,
  type PlatformConfig,
  type PlatformConfigInput,
  parseLabSpec,
  parsePlatformConfig,
} from './spec.js';
export { POD_INTERFACE, type VmiStatus, vmiAddress } from './vmi-status.js';
export { checkKubevirtRules, INLINE_USER_DATA_LIMIT, type RuleViolation } from './webhook-rules.js';
