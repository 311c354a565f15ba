import { InvalidInputError } from '@breakfix/core';
import ssh2 from 'ssh2';
import { fingerprint } from './runner.js';

/** Key types a learner may register: what current OpenSSH clients make by default. */
const ACCEPTED = new Set([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
]);

export interface PublicKey {
  /** `type base64` plus the comment, on one line, as it goes into authorized_keys. */
  line: string;
  type: string;
  /** OpenSSH's `SHA256:...` fingerprint. */
  fingerprint: string;
}

/**
 * Parses one OpenSSH public key line (what `~/.ssh/id_ed25519.pub` holds). Anything else — a
 * private key, options before the key, two keys, an unknown type — is refused with a reason, so
 * nothing but a single key ever reaches a VM's key file.
 */
export function parsePublicKey(input: string): PublicKey {
  const text = input.trim();
  if (text.includes('PRIVATE KEY')) {
    throw new InvalidInputError('that is a private key: never share it', {
      hint: 'send the .pub file, e.g. the output of `cat ~/.ssh/id_ed25519.pub`',
    });
  }
  if (text.includes('\n')) throw new InvalidInputError('publicKey: give exactly one key, on one line');
  const [type, blob, ...comment] = text.split(/\s+/);
  if (type === undefined || !ACCEPTED.has(type) || blob === undefined) {
    throw new InvalidInputError(
      `publicKey: not an OpenSSH public key line (expected one of ${[...ACCEPTED].join(', ')} followed by base64)`,
      { hint: 'generate one with `ssh-keygen -t ed25519` and send the .pub file' },
    );
  }
  const parsed = ssh2.utils.parseKey(`${type} ${blob}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || key instanceof Error || key.type !== type) {
    throw new InvalidInputError(`publicKey: the ${type} key data does not decode`, {
      hint: 'copy the whole line from the .pub file',
    });
  }
  if (type === 'ssh-rsa' && key.getPublicSSH().length < 270) {
    throw new InvalidInputError('publicKey: RSA keys shorter than 2048 bits are refused', {
      hint: 'use `ssh-keygen -t ed25519`',
    });
  }
  const safeComment = comment
    .join(' ')
    .replace(/[^\w@.+-]/g, '')
    .slice(0, 64);
  return {
    line: safeComment === '' ? `${type} ${blob}` : `${type} ${blob} ${safeComment}`,
    type,
    fingerprint: fingerprint(Buffer.from(blob, 'base64')),
  };
}
