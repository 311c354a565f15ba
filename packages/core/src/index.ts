export { type EnvSchema, readEnvConfig } from './config.js';
export { type WaitOptions, waitFor, withDeadline } from './deadline.js';
export {
  ENVIRONMENT_STATES,
  type EnvironmentEvent,
  type EnvironmentState,
  isHeld,
  TRANSITIONS,
  transition,
} from './environment.js';
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
