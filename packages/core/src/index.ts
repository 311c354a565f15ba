export { type WaitOptions, waitFor, withDeadline } from './deadline.js';
export {
  assertNever,
  BreakfixError,
  type BreakfixErrorOptions,
  ConflictError,
  DeadlineExceededError,
  type ErrorCode,
  InvalidInputError,
  NotFoundError,
  UnsupportedEnvironmentError,
  UpstreamError,
} from './errors.js';
