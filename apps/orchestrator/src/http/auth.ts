import { createHash, timingSafeEqual } from 'node:crypto';
import { InvalidInputError } from '@breakfix/core';
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { EdgeError } from './problem.js';

export const ROLES = ['admin', 'instructor', 'bot'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: the token's name and role. */
export interface Caller {
  name: string;
  role: Role;
}

export interface ApiToken extends Caller {
  token: string;
}

const tokensSchema = z
  .array(
    z.strictObject({
      name: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'letters, digits and . _ @ -, at most 64'),
      role: z.enum(ROLES),
      token: z.string().min(24, 'is too short to be a secret (24 characters at least)'),
    }),
  )
  .min(1, 'lists no token');

/** Parses the tokens file (a YAML list of {name, role, token}); errors name the entry and field. */
export function parseTokens(input: unknown): ApiToken[] {
  const parsed = tokensSchema.safeParse(input);
  if (!parsed.success) {
    throw new InvalidInputError(
      `invalid tokens file: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Finds the caller of a bearer token. Every token is compared, each in constant time on its
 * SHA-256 (equal lengths), so neither the answer nor the time taken says how much of a guess matched.
 */
export function createTokenLookup(tokens: readonly ApiToken[]): (presented: string) => Caller | undefined {
  const known = tokens.map((t) => ({ caller: { name: t.name, role: t.role }, digest: digest(t.token) }));
  return (presented) => {
    const candidate = digest(presented);
    let found: Caller | undefined;
    for (const entry of known) {
      if (timingSafeEqual(entry.digest, candidate)) found = entry.caller;
    }
    return found;
  };
}

export type AuthEnv = { Variables: { caller: Caller } };

/** The bearer token from the Authorization header, or the dashboard's cookie. */
export function presentedToken(header: string | undefined, cookie: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (match?.[1] !== undefined) return match[1];
  const fromCookie = /(?:^|;\s*)breakfix_token=([^;]+)/.exec(cookie ?? '')?.[1];
  return fromCookie === undefined ? undefined : decodeURIComponent(fromCookie);
}

/** Authenticates every request it guards; `roles` limits which roles pass. */
export function requireRole(
  lookup: ReturnType<typeof createTokenLookup>,
  roles: readonly Role[],
): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const token = presentedToken(c.req.header('Authorization'), c.req.header('Cookie'));
    if (token === undefined) {
      throw new EdgeError('unauthorized', 'no bearer token: send Authorization: Bearer <token>', {
        hint: 'tokens come from the operator (the tokens file); the sandbox prints one',
      });
    }
    const caller = lookup(token);
    if (caller === undefined) throw new EdgeError('unauthorized', 'unknown bearer token');
    if (!roles.includes(caller.role)) {
      throw new EdgeError('forbidden', `role ${caller.role} may not ${c.req.method} ${c.req.path}`, {
        hint: `this needs one of: ${roles.join(', ')}`,
      });
    }
    c.set('caller', caller);
    await next();
  };
}

/**
 * The learner a request acts for. Bots (the Slack bot) and admins act for any learner; an
 * instructor acts only as themselves.
 */
export function actingFor(caller: Caller, learner: string | undefined): string {
  if (learner === undefined || learner === caller.name) return caller.name;
  if (caller.role === 'instructor') {
    throw new EdgeError('forbidden', `an instructor token acts only for itself (${caller.name}), not for ${learner}`, {
      hint: 'leave out the learner, or use a bot or admin token',
    });
  }
  return learner;
}
