export {
  countByPool,
  type Environment,
  EnvironmentStore,
  type EnvironmentStoreOptions,
  emptyCounts,
  LearnerHasLabError,
  PoolExhaustedError,
  type StateCounts,
} from './environment-store.js';
export {
  type Lease,
  NodePortAllocator,
  type NodePortAllocatorOptions,
  type NodePortRange,
  NodePortsExhaustedError,
} from './nodeport-allocator.js';
export { createProvisioner, type ProvisionerOptions, type ProvisionRequest } from './provisioner.js';
export {
  closeSsh,
  type ExposureDeps,
  type LabRef,
  openSsh,
  type ReconcileReport,
  reconcileNodePorts,
} from './ssh-exposure.js';
