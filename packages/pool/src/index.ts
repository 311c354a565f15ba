export type { ClaimStep, ClaimStepEvent, ClaimTrace } from './claim-trace.js';
export {
  countByPool,
  type Environment,
  EnvironmentStore,
  type EnvironmentStoreOptions,
  type ExpireOutcome,
  ExtendLimitError,
  emptyCounts,
  type IdleReleaseOutcome,
  type LabAccessDetails,
  type LabNode,
  LearnerHasLabError,
  PoolExhaustedError,
  type PoolFailure,
  type PoolPlanStatus,
  type StateCounts,
} from './environment-store.js';
export { createIdleReaper, type IdleReaper, type IdleReaperOptions, type IdleReport } from './idle-reaper.js';
export {
  type ClaimedLab,
  type ClaimOutcome,
  ClaimPreparationError,
  type ClaimRequest,
  createLabAccess,
  type LabAccess,
  type LabAccessOptions,
  type LabConnection,
  type LabTargets,
  type PreparedLab,
} from './lab-access.js';
export {
  createLabActivity,
  type LabActivity,
  type LabActivityOptions,
  type LabActivityRecords,
  type LabEndReason,
  type LabEvent,
  labEventsChannel,
  lastActivityKey,
  parseLabEvent,
  publishLabEvent,
} from './lab-activity.js';
export { checkLabVms, type LostLab, lostReason } from './lab-health.js';
export {
  type LearnerSession,
  type NodeSessions,
  parseSessionProbe,
  probeLearnerSessions,
  sessionProbeScript,
} from './lab-sessions.js';
export { listLabVmis, type NodeVmi, runningNode, type Vmi, waitForNodes } from './lab-vmis.js';
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
  waitForSshEndpoint,
} from './ssh-exposure.js';
export { requestTopUp, wakeChannel } from './wake.js';
export { createWarmConnections, type WarmConnections, type WarmConnectionsOptions } from './warm-connections.js';
