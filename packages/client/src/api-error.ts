import type { Problem } from '@breakfix/orchestrator';

/**
 * Any failure the API answered with, carrying its RFC 9457 problem: `code` is stable
 * (invalid_input, unauthorized, forbidden, not_found, conflict, rate_limited, pool_exhausted,
 * upstream, deadline_exceeded, ...), `hint` says what to do, and pool_exhausted brings the
 * learner's `queuePosition`. A failure without a problem body (a proxy's 502) gets code `http_<status>`.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly hint: string | undefined;
  /** pool_exhausted: 1 for the first learner waiting. */
  readonly queuePosition: number | undefined;
  /** pool_exhausted: labs of the pool booting now. */
  readonly provisioning: number | undefined;
  /** conflict: the lab the learner already holds. */
  readonly labId: string | undefined;
  /** Seconds the server asked us to wait (Retry-After), if it did. */
  readonly retryAfter: number | undefined;
  readonly problem: Problem;

  constructor(problem: Problem, retryAfter?: number) {
    super(problem.detail);
    this.name = 'ApiError';
    this.problem = problem;
    this.status = problem.status;
    this.code = problem.code;
    this.title = problem.title;
    this.detail = problem.detail;
    this.hint = problem.hint;
    this.queuePosition = problem.queuePosition;
    this.provisioning = problem.provisioning;
    this.labId = problem.labId;
    this.retryAfter = retryAfter;
  }

  /** Reads a failed response into an ApiError. */
  static async from(response: Response): Promise<ApiError> {
    const text = await response.text();
    const retry = Number(response.headers.get('Retry-After') ?? Number.NaN);
    let problem: Problem;
    try {
      problem = JSON.parse(text) as Problem;
      if (typeof problem.code !== 'string') throw new Error('not a problem');
    } catch {
      problem = {
        type: 'about:blank',
        title: response.statusText || 'HTTP error',
        status: response.status,
        detail: text.slice(0, 500) || `HTTP ${response.status}`,
        code: `http_${response.status}`,
      };
    }
    return new ApiError(problem, Number.isFinite(retry) ? retry : undefined);
  }
}
