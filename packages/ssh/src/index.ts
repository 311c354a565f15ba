export { type PublicKey, parsePublicKey } from './public-key.js';
export {
  CommandTimeoutError,
  createSshRunner,
  type ExecOptions,
  type ExecResult,
  fingerprint,
  HostKeyMismatchError,
  quote,
  type SshConnectEvent,
  type SshRunner,
  type SshRunnerOptions,
  type SshTarget,
} from './runner.js';
export { openShell, type Shell, type ShellOptions } from './shell.js';
