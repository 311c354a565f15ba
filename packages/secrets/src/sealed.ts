import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** Marks the format, so a future change of cipher or key can tell old boxes from new. */
const VERSION = 'v1';

/**
 * A 32-byte key for sealSecret, derived (HKDF-SHA256) from key material the platform already holds
 * and a purpose, so one root secret yields independent keys per use.
 */
export function deriveSealingKey(material: string | Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', material, 'breakfix-sealed', purpose, 32));
}

/**
 * Encrypts a secret for storage (AES-256-GCM, fresh 96-bit IV): `v1.<iv>.<tag>.<ciphertext>`,
 * base64url. `context` (a lab id, say) is authenticated, so a box copied to another record does
 * not open there.
 */
export function sealSecret(key: Buffer, plaintext: string, context = ''): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), body]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/** Opens what sealSecret made with the same key and context; throws when either differs or the box was altered. */
export function openSecret(key: Buffer, sealed: string, context = ''): string {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== VERSION || iv === undefined || tag === undefined || body === undefined) {
    throw new Error(`not a sealed secret (expected ${VERSION}.<iv>.<tag>.<body>)`);
  }
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}
