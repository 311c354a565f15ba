/**
 * The few named failures of breakfix. Each has a stable `code` that HTTP, Slack and CLI edges map to
 * their own wording in one place, and a `hint` telling the reader what to do about it.
 */
export type ErrorCode =
  | 'invalid_input'
  | 'not_found'
  | 'conflict'
  | 'pool_exhausted'
  | 'deadline_exceeded'
  | 'upstream'
  | 'unsupported_environment';

export interface BreakfixErrorOptions {
  /** What the reader can do about it. */
  hint?: string;
  cause?: unknown;
}

export class BreakfixError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: BreakfixErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }
}

export class InvalidInputError extends BreakfixError {
  constructor(message: string, options?: BreakfixErrorOptions) {
    super('invalid_input', message, options);
  }
}

export class NotFoundError extends BreakfixError {
  constructor(message: string, options?: BreakfixErrorOptions) {
    super('not_found', message, options);
  }
}

export class ConflictError extends BreakfixError {
  constructor(message: string, options?: BreakfixErrorOptions) {
    super('conflict', message, options);
  }
}

export class DeadlineExceededError extends BreakfixError {
  constructor(message: string, options?: BreakfixErrorOptions) {
    super('deadline_exceeded', message, options);
  }
}

/** A system we call (apiserver, Redis, an SSH host) answered with a failure we do not model. */
export class UpstreamError extends BreakfixError {
  readonly status: number | undefined;

  constructor(message: string, options: BreakfixErrorOptions & { status?: number } = {}) {
    super('upstream', message, options);
    this.status = options.status;
  }
}

/** This machine lacks something breakfix needs (a binary, root, a package). */
export class UnsupportedEnvironmentError extends BreakfixError {
  constructor(message: string, options?: BreakfixErrorOptions) {
    super('unsupported_environment', message, options);
  }
}

export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
