/**
 * The typed client of the orchestrator API, inferred from its routes (`AppType`): use it instead
 * of fetch everywhere (labctl, the Slack bot).
 *
 *   const breakfix = createClient({ baseUrl: 'https://labs.example.com', token });
 *   try {
 *     const { lab, connection } = await breakfix.labs.claim({ learner: 'U024', scenario: 'kubelet-crashloop' },
 *       { idempotencyKey: crypto.randomUUID() });
 *   } catch (error) {
 *     if (error instanceof ApiError && error.code === 'pool_exhausted') say(`you are #${error.queuePosition}`);
 *   }
 *
 * Every method resolves to the success body and rejects with ApiError (the problem+json). The
 * raw `hc` tree is `breakfix.api` for anything the methods do not cover.
 */

export type {
  CheckResult,
  ClaimResult,
  Connection,
  Hint,
  Lab,
  PoolStatus,
  Problem,
  RegisteredKey,
  ScenarioDetail,
  ScenarioSummary,
  TerminalLink,
} from '@breakfix/orchestrator';
export { ApiError } from './api-error.js';
export { type BreakfixClient, type ClientOptions, createClient } from './client.js';
