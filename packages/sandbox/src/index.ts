export { type ManagedProcess, spawnManaged } from '@breakfix/qemu';
export { type Binaries, type BinaryName, envVarFor, kubeadmFor, resolveBinaries } from './binaries.js';
export { installCrds, KUBEVIRT_CRDS_PATH, loadKubevirtCrds } from './crds/install.js';
export { freePort } from './ports.js';
export { type StartedRedis, startRedis } from './redis.js';
export { type Sandbox, type SandboxOptions, startSandbox } from './start-sandbox.js';
export { type GuestIdentity, parseGuestIdentity } from './virt/cloud-config.js';
export { LAUNCHER_LABEL, launcherPod, SCHEDULABLE_LABEL } from './virt/launcher-pod.js';
export { nodeImageResolver } from './virt/node-images.js';
export { defaultNodes, type SimulatedNode } from './virt/nodes.js';
export type { ImageResolver } from './virt/qemu-guests.js';
export type { GuestInfo, VirtSimulator } from './virt/simulator.js';
export {
  decide,
  firstRequestDone,
  nextStartFailure,
  restingPrintableStatus,
  type StartBackoff,
  startBackoffMs,
  VM_CONTROLLER_FINALIZER,
  VMI_FINALIZER,
} from './virt/vm-controller.js';
export {
  ANNOTATION_ADDRESS_DELAY,
  ANNOTATION_BACKEND,
  ANNOTATION_BOOT_DELAY,
  ANNOTATION_BOOTSTRAP,
  ANNOTATION_CRASH_AFTER,
  ANNOTATION_EMULATE_BOOTSTRAP,
  ANNOTATION_FAULT,
  ANNOTATION_GUEST_AGENT,
  ANNOTATION_POWEROFF_AFTER,
  annotateVms,
  emulatedBootstrap,
  parseVmBackend,
  type VirtualMachine,
  type VmBackend,
  vmiFor,
} from './virt/vm-objects.js';
