import { ApiError } from '@breakfix/client';
import { BreakfixError } from '@breakfix/core';
import { CommanderError } from 'commander';

/** labctl's exit codes; `labctl --help`, the README and docs/instructor-guide.md list the same. */
export const EXIT = {
  ok: 0,
  /** The command ran and the answer is no: a scenario test or lint failed, a lab is not solved yet. */
  failure: 1,
  /** The command line is wrong: unknown command or flag, missing or invalid argument, unreadable file. */
  usage: 2,
  /** What was asked for, or what it needs, is not there: lab, scenario, ready lab, API, sandbox. */
  unavailable: 3,
  /** A deadline passed (claim --timeout, a lab that never became ready). */
  timeout: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  failure: a scenario test or lint failed, a lab's check says not solved yet, any other error
  2  usage: unknown command or flag, missing or invalid argument, a named file that cannot be read
  3  not found or unavailable: unknown lab or scenario, empty pool with --no-wait, no API or sandbox
  4  timeout: no lab within claim --timeout, a deadline of the API or of a lab passed`;

/**
 * The one mapping from a failure's stable code to an exit code: BreakfixError codes of
 * @breakfix/core, ApiError codes of the API's problem+json (see docs/adr/0009), and `http_<status>`
 * for an answer without a problem body (a proxy in between).
 */
const BY_CODE: Record<string, ExitCode> = {
  invalid_input: EXIT.usage,
  not_found: EXIT.unavailable,
  pool_exhausted: EXIT.unavailable,
  upstream: EXIT.unavailable,
  unsupported_environment: EXIT.unavailable,
  rate_limited: EXIT.unavailable,
  deadline_exceeded: EXIT.timeout,
  conflict: EXIT.failure,
  unauthorized: EXIT.failure,
  forbidden: EXIT.failure,
  http_404: EXIT.unavailable,
  http_502: EXIT.unavailable,
  http_503: EXIT.unavailable,
  http_504: EXIT.timeout,
};

/** Node's codes for a file named on the command line that is not there or not readable. */
const FILE_CODES = new Set(['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR', 'EPERM']);
/** Node's codes for a server that cannot be reached. */
const NETWORK_CODES: Record<string, ExitCode> = {
  ECONNREFUSED: EXIT.unavailable,
  ECONNRESET: EXIT.unavailable,
  ENOTFOUND: EXIT.unavailable,
  EHOSTUNREACH: EXIT.unavailable,
  ENETUNREACH: EXIT.unavailable,
  ETIMEDOUT: EXIT.timeout,
};

export interface Outcome {
  exitCode: ExitCode;
  /** What to print on stderr, without the `labctl: ` prefix; empty when it has been said already. */
  message: string;
}

/** How a failure ends labctl: its exit code and its words. */
export function outcomeOf(error: unknown): Outcome {
  if (error instanceof CommanderError) {
    // commander printed its message (with a suggestion) or the help already; its exit code is 0
    // for --help, `help` and --version, and 1 for every parse error and for help shown on error
    return { exitCode: error.exitCode === 0 ? EXIT.ok : EXIT.usage, message: '' };
  }
  if (error instanceof ApiError) {
    return {
      exitCode: BY_CODE[error.code] ?? EXIT.failure,
      message: `${error.detail} (${error.code})${hintOf(error.hint)}`,
    };
  }
  if (error instanceof BreakfixError) {
    return { exitCode: BY_CODE[error.code] ?? EXIT.failure, message: `${error.message}${hintOf(error.hint)}` };
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && FILE_CODES.has(code) && typeof (error as { path?: unknown }).path === 'string') {
    return {
      exitCode: EXIT.usage,
      message: `${(error as Error).message}${hintOf('check the path on the command line')}`,
    };
  }
  if (typeof code === 'string' && NETWORK_CODES[code] !== undefined) {
    return { exitCode: NETWORK_CODES[code], message: (error as Error).message };
  }
  return {
    exitCode: EXIT.failure,
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  };
}

function hintOf(hint: string | undefined): string {
  return hint === undefined ? '' : `\n  -> ${hint}`;
}
