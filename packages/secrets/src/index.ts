export {
  caCertHash,
  createLabSecrets,
  createOperatorKey,
  defaultSources,
  type LabSecrets,
  type SecretSources,
  type SshKeyPair,
} from './lab-secrets.js';
