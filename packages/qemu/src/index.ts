export {
  type Accelerator,
  type AcceleratorChoice,
  acceleratorArgs,
  chooseAccelerator,
  parseAcceleratorChoice,
} from './accelerator.js';
export {
  bootContainerNode,
  containerNodeFiles,
  type NodeFile,
  NSPAWN,
  requireContainerNodeTools,
  rootPartition,
  sweepNodeCgroups,
} from './container-node.js';
export { dnsmasqArgs, parseLeases } from './dnsmasq-config.js';
export { createQemuHost, type QemuHost, type QemuHostOptions } from './host.js';
export type { LabNetwork, LabNetworkOptions } from './lab-network.js';
export type { NetworkNamespace } from './namespace.js';
export { type ManagedProcess, type SpawnOptions, spawnManaged } from './process.js';
export { qemuArgs } from './qemu-args.js';
export type { NoCloudSeed } from './seed.js';
export type { BootOptions, Firmware, GuestImage, NodeBackend, Vm } from './vm.js';
