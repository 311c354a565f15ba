export { type NodePortBand, nodePortBand, pinnedNodePort, SHARED_NODE_PORTS } from './node-ports.js';
export type { SandboxInfo } from './sandbox-info.js';
export { type SandboxProcess, startSandboxProcess } from './sandbox-process.js';
export { assertSnapshot } from './snapshot.js';
export { closeRedisConnections, type TestSandbox, uniqueName, useSandbox } from './use-sandbox.js';
