import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { ConflictError, InvalidInputError } from '@breakfix/core';
import type { Redis } from 'ioredis';

export interface IdempotencyOptions {
  redis: Pick<Redis, 'set' | 'get' | 'del'>;
  prefix: string;
  /** How long a result is replayed. Default 24 h. */
  ttlMs?: number;
  /** How long a request may run before its key can be used again. Default 5 min. */
  pendingMs?: number;
}

interface Stored {
  state: 'pending' | 'done';
  /** SHA-256 of the request, so a key reused for another request is refused. */
  request: string;
  iv?: string;
  tag?: string;
  data?: string;
}

/** What an Idempotency-Key may be: 16 to 200 printable ASCII characters, no spaces (the OpenAPI document declares it). */
export const IDEMPOTENCY_KEY_FORMAT = /^[\x21-\x7e]{16,200}$/;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Idempotency-Key for requests that must not run twice (a claim). The first successful result is
 * kept and replayed for the same key and request; failures are not kept, so a retry tries again.
 *
 * A claim's result may hold a generated private key, which breakfix never stores in clear: the
 * result is encrypted (AES-256-GCM) with a key derived from the Idempotency-Key itself, and Redis
 * holds only the ciphertext under a hash of that key. Only the caller who knows the key can
 * read it back (docs/adr/0009).
 */
export function createIdempotency(options: IdempotencyOptions) {
  const ttlMs = options.ttlMs ?? 24 * 3_600_000;
  const pendingMs = options.pendingMs ?? 300_000;

  return async function once<T>(
    scope: string,
    key: string,
    request: unknown,
    work: () => Promise<T>,
  ): Promise<{ result: T; replayed: boolean }> {
    if (!IDEMPOTENCY_KEY_FORMAT.test(key)) {
      throw new InvalidInputError('Idempotency-Key: 16 to 200 printable characters without spaces', {
        hint: 'use a fresh random UUID per intended claim',
      });
    }
    const redisKey = `${options.prefix}idempotency:${sha256(`${scope}\n${key}`)}`;
    const requestHash = sha256(JSON.stringify(request));
    const secret = Buffer.from(hkdfSync('sha256', key, scope, 'breakfix idempotency result', 32));

    const pending: Stored = { state: 'pending', request: requestHash };
    const acquired = await options.redis.set(redisKey, JSON.stringify(pending), 'PX', pendingMs, 'NX');
    if (acquired !== 'OK') {
      const stored = JSON.parse((await options.redis.get(redisKey)) ?? '{"state":"pending"}') as Stored;
      if (stored.request !== requestHash) {
        throw new ConflictError('this Idempotency-Key was used for a different request', {
          hint: 'use a new key for a new request',
        });
      }
      if (stored.state === 'pending') {
        throw new ConflictError('a request with this Idempotency-Key is still running', {
          hint: 'wait for it, then send the same request again to get its result',
        });
      }
      const decipher = createDecipheriv('aes-256-gcm', secret, Buffer.from(stored.iv ?? '', 'base64'));
      decipher.setAuthTag(Buffer.from(stored.tag ?? '', 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(stored.data ?? '', 'base64')), decipher.final()]);
      return { result: JSON.parse(plain.toString('utf8')) as T, replayed: true };
    }

    let result: T;
    try {
      result = await work();
    } catch (error) {
      await options.redis.del(redisKey);
      throw error;
    }
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', secret, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(result), 'utf8'), cipher.final()]);
    const done: Stored = {
      state: 'done',
      request: requestHash,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
    await options.redis.set(redisKey, JSON.stringify(done), 'PX', ttlMs);
    return { result, replayed: false };
  };
}
