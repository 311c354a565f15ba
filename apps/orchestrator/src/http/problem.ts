import { BreakfixError, type ErrorCode } from '@breakfix/core';
import { LearnerHasLabError, PoolExhaustedError } from '@breakfix/pool';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ProblemBody } from '../schemas.js';

/** Failures that exist only at the HTTP edge: who may call, how often, and with which method. */
export type EdgeCode = 'unauthorized' | 'forbidden' | 'rate_limited' | 'method_not_allowed';

/** An HTTP-only failure (authentication, authorization, rate limit, method), mapped beside BreakfixError. */
export class EdgeError extends Error {
  readonly code: EdgeCode;
  readonly hint: string | undefined;
  /** Seconds, for rate_limited. */
  readonly retryAfter: number | undefined;
  /** The methods the path takes, for method_not_allowed (the `Allow` header). */
  readonly allow: readonly string[] | undefined;

  constructor(
    code: EdgeCode,
    message: string,
    options: { hint?: string; retryAfter?: number; allow?: readonly string[] } = {},
  ) {
    super(message);
    this.name = 'EdgeError';
    this.code = code;
    this.hint = options.hint;
    this.retryAfter = options.retryAfter;
    this.allow = options.allow;
  }
}

const STATUS: Record<ErrorCode | EdgeCode | 'internal', { status: number; title: string }> = {
  invalid_input: { status: 400, title: 'The request is invalid' },
  unauthorized: { status: 401, title: 'Missing or unknown bearer token' },
  forbidden: { status: 403, title: 'This token may not do that' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict with the current state' },
  rate_limited: { status: 429, title: 'Too many requests' },
  unsupported_environment: { status: 500, title: 'The platform is misconfigured' },
  internal: { status: 500, title: 'Internal error' },
  upstream: { status: 502, title: 'A system behind the API failed' },
  pool_exhausted: { status: 503, title: 'No ready lab in the pool' },
  deadline_exceeded: { status: 504, title: 'A deadline passed' },
};

/** Seconds a queued learner is told to wait before asking again. */
const POOL_RETRY_AFTER_S = 10;

export interface FieldError {
  field: string;
  message: string;
}

/** Malformed input with the fields at fault; the detail names them too. */
export class FieldsInvalidError extends BreakfixError {
  readonly fields: FieldError[];

  constructor(fields: FieldError[]) {
    super('invalid_input', fields.map((f) => `${f.field}: ${f.message}`).join('; '), {
      hint: 'fix the named fields and send the request again',
    });
    this.fields = fields;
  }
}

/**
 * The one place errors become responses: RFC 9457 problem+json with our stable `code`, the
 * reader's `hint`, and the extension members a caller acts on (queuePosition, labId, errors).
 */
export function problemResponse(error: unknown, c: Context, log?: (message: string) => void): Response {
  const body = toProblem(error);
  body.instance = c.req.path;
  if (body.status >= 500 && !(error instanceof PoolExhaustedError)) {
    log?.(`${c.req.method} ${c.req.path}: ${(error as Error)?.stack ?? String(error)}`);
  }
  const headers: Record<string, string> = { 'Content-Type': 'application/problem+json' };
  if (body.code === 'unauthorized') headers['WWW-Authenticate'] = 'Bearer realm="breakfix"';
  if (error instanceof EdgeError && error.retryAfter !== undefined) headers['Retry-After'] = String(error.retryAfter);
  if (error instanceof EdgeError && error.allow !== undefined) headers.Allow = error.allow.join(', ');
  if (error instanceof PoolExhaustedError) headers['Retry-After'] = String(POOL_RETRY_AFTER_S);
  return new Response(JSON.stringify(body), { status: body.status, headers });
}

export function toProblem(error: unknown): ProblemBody {
  const make = (code: keyof typeof STATUS, detail: string, hint?: string): ProblemBody => ({
    type: `https://breakfix.dev/problems/${code}`,
    title: STATUS[code].title,
    status: STATUS[code].status,
    detail,
    code,
    ...(hint === undefined ? {} : { hint }),
  });
  if (error instanceof EdgeError) return make(error.code, error.message, error.hint);
  if (error instanceof BreakfixError) {
    const body = make(error.code, error.message, error.hint);
    if (error instanceof FieldsInvalidError) body.errors = error.fields;
    if (error instanceof PoolExhaustedError) {
      body.pool = error.pool;
      body.queuePosition = error.queuePosition;
      body.provisioning = error.provisioning;
    }
    if (error instanceof LearnerHasLabError) body.labId = error.environmentId;
    return body;
  }
  if (error instanceof HTTPException && error.status < 500) {
    // Hono's own validators: a body that is not JSON, say.
    return make('invalid_input', error.message, 'send a JSON body with Content-Type: application/json');
  }
  return make('internal', 'the server failed; the error is in its log');
}
