export {
  caCertHash,
  createLabSecrets,
  createOperatorKey,
  defaultSources,
  generateEd25519,
  type LabSecrets,
  type SecretSources,
  type SshKeyPair,
} from './lab-secrets.js';
export { deriveSealingKey, openSecret, sealSecret } from './sealed.js';
