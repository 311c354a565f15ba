export {
  type Lease,
  NodePortAllocator,
  type NodePortAllocatorOptions,
  type NodePortRange,
  NodePortsExhaustedError,
} from './nodeport-allocator.js';
export {
  closeSsh,
  type ExposureDeps,
  type LabRef,
  openSsh,
  type ReconcileReport,
  reconcileNodePorts,
} from './ssh-exposure.js';
