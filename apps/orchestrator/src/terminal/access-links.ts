import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface TerminalAccessOptions {
  redis: Pick<Redis, 'set' | 'get' | 'getdel' | 'del'>;
  /** Key prefix shared with the store (`breakfix:`). */
  prefix: string;
  /** How long a one-time link may wait to be opened. Default 5 min. */
  linkTtlMs?: number;
  /** How long the lab-scoped browser session lasts (every connect also checks the claim). Default 8 h. */
  sessionTtlMs?: number;
  /** How long a used link is remembered as used, to say so instead of "unknown". Default 1 day. */
  usedTtlMs?: number;
  now?: () => number;
}

/** Who a link or session belongs to. */
export interface TerminalGrant {
  labId: string;
  learner: string;
}

/** Why a link did not open: used before, or never issued / expired / for another lab. */
export type RedeemOutcome =
  | { ok: true; grant: TerminalGrant }
  | { ok: false; reason: 'used' | 'unknown' | 'other-lab' };

const hash = (token: string) => createHash('sha256').update(token).digest('base64url');
const token = () => randomBytes(32).toString('base64url');

/**
 * One-time links and the lab-scoped sessions they turn into. Only SHA-256 hashes of the tokens
 * are stored, so a Redis dump opens no terminal; a link is deleted as it is redeemed (GETDEL),
 * so two tabs racing for one link get one session.
 */
export function createTerminalAccess(options: TerminalAccessOptions) {
  const { redis, prefix } = options;
  const now = options.now ?? Date.now;
  const linkTtlMs = options.linkTtlMs ?? 5 * 60_000;
  const sessionTtlMs = options.sessionTtlMs ?? 8 * 60 * 60_000;
  const usedTtlMs = options.usedTtlMs ?? 24 * 60 * 60_000;
  const linkKey = (secret: string) => `${prefix}terminal-link:${hash(secret)}`;
  const usedKey = (secret: string) => `${prefix}terminal-link-used:${hash(secret)}`;
  const sessionKey = (secret: string) => `${prefix}terminal-session:${hash(secret)}`;

  return {
    linkTtlMs,
    sessionTtlMs,

    /** A fresh one-time link token for a learner's lab, and when it stops working. */
    async issue(grant: TerminalGrant): Promise<{ token: string; expiresAt: number }> {
      const secret = token();
      await redis.set(linkKey(secret), JSON.stringify(grant), 'PX', linkTtlMs);
      return { token: secret, expiresAt: now() + linkTtlMs };
    },

    /** Spends a link on the lab it names; a second use finds it gone. */
    async redeem(labId: string, secret: string): Promise<RedeemOutcome> {
      const stored = await redis.getdel(linkKey(secret));
      if (stored === null) {
        return { ok: false, reason: (await redis.get(usedKey(secret))) === null ? 'unknown' : 'used' };
      }
      await redis.set(usedKey(secret), '1', 'PX', usedTtlMs);
      const grant = JSON.parse(stored) as TerminalGrant;
      if (grant.labId !== labId) return { ok: false, reason: 'other-lab' };
      return { ok: true, grant };
    },

    /** A session token for the cookie, valid for sessionTtlMs. */
    async startSession(grant: TerminalGrant): Promise<string> {
      const secret = token();
      await redis.set(sessionKey(secret), JSON.stringify(grant), 'PX', sessionTtlMs);
      return secret;
    },

    /** The session's grant when it exists and is for this lab. */
    async session(labId: string, secret: string | undefined): Promise<TerminalGrant | undefined> {
      if (secret === undefined || secret === '') return undefined;
      const stored = await redis.get(sessionKey(secret));
      if (stored === null) return undefined;
      const grant = JSON.parse(stored) as TerminalGrant;
      return grant.labId === labId ? grant : undefined;
    },
  };
}

export type TerminalAccess = ReturnType<typeof createTerminalAccess>;

/** The cookie a terminal session lives in; its path scopes it to one lab's terminal. */
export const SESSION_COOKIE = 'breakfix_terminal';

/** Reads one cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}
