export { type PublicKey, parsePublicKey } from './public-key.js';
export {
  CommandTimeoutError,
  createSshRunner,
  type ExecOptions,
  type ExecResult,
  fingerprint,
  HostKeyMismatchError,
  type KeptConnection,
  quote,
  type SshConnectEvent,
  type SshRunner,
  type SshRunnerOptions,
  type SshTarget,
} from './runner.js';
export { openShell, type Shell, type ShellOptions } from './shell.js';
