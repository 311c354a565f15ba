// What other workspaces may use: the app factory (tests, the sandbox), its type (the typed
// client infers every route from it) and the API's shapes.
export { type App, type AppDeps, createApp } from './app.js';
export { type ApiToken, type Caller, parseTokens, ROLES, type Role } from './http/auth.js';
export { createApiMetrics } from './http/metrics.js';
export { sshCommand } from './labs.js';
export { createWorkerQueues } from './queues.js';
export type {
  CheckResultBody as CheckResult,
  ClaimResultBody as ClaimResult,
  ConnectionBody as Connection,
  HintBody as Hint,
  KeyResultBody as RegisteredKey,
  LabBody as Lab,
  PoolStatusBody as PoolStatus,
  ProblemBody as Problem,
  ScenarioDetailBody as ScenarioDetail,
  ScenarioSummaryBody as ScenarioSummary,
  TerminalLinkBody as TerminalLink,
} from './schemas.js';
export { createTerminalSockets, type TerminalSockets, type TerminalSocketsOptions } from './terminal/sockets.js';

import type { App } from './app.js';
/** The route tree `hc<AppType>()` types its calls from. */
export type AppType = App;
