import { createRoute, z } from '@hono/zod-openapi';
import { IDEMPOTENCY_KEY_FORMAT } from './http/idempotency.js';
import {
  CheckResult,
  ClaimBody,
  ClaimResult,
  ExtendBody,
  HintResult,
  KeyBody,
  KeyResult,
  Lab,
  LearnerName,
  PoolStatus,
  Problem,
  ScenarioDetail,
  ScenarioSummary,
  TerminalLink,
} from './schemas.js';

// Route contracts, versioned under /v1. Handlers live in app.ts; errors are thrown and become
// problem+json in http/problem.ts.

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});
const problem = (description: string) => ({
  content: { 'application/problem+json': { schema: Problem } },
  description,
});
const retryAfter = (description: string) => ({
  'Retry-After': { description: `Seconds ${description}`, schema: { type: 'integer' as const, minimum: 1 } },
});
const common = {
  400: problem('malformed request: `errors` names the fields'),
  401: problem('missing or unknown bearer token'),
  403: problem("the token's role may not do this"),
  429: {
    ...problem('the learner made too many requests; see Retry-After'),
    headers: retryAfter('until the next request is allowed'),
  },
};
const security = [{ bearer: [] }];
const LabId = z.object({
  id: z
    .string()
    .min(1)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'e1a2b3c4d5' }),
});
const ScenarioId = z.object({
  id: z
    .string()
    .min(1)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'kubelet-stopped' }),
});
const Learner = z.object({
  learner: LearnerName.openapi({ param: { name: 'learner', in: 'path' }, example: 'U024BE7LH' }),
});
const IdempotencyKey = z
  .string()
  .min(16)
  .max(200)
  .regex(IDEMPOTENCY_KEY_FORMAT, '16 to 200 printable characters without spaces')
  .optional()
  .openapi({
    description:
      'Makes a retried claim return the first result instead of claiming again: 16 to 200 printable ASCII characters without spaces (a random UUID). Kept 24 hours.',
    example: '6f1c2a7e-0b3d-4a8e-9c51-2d7f8e9a0b1c',
  });

/** A claim's follow-ups, for clients and fuzzers that walk the API: the lab's id is `lab.id` of the answer. */
const labLink = (operationId: string, description: string) => ({
  operationId,
  parameters: { id: '$response.body#/lab/id' },
  description,
});
const claimLinks = {
  GetLab: labLink('getLab', 'the claimed lab'),
  ReleaseLab: labLink('releaseLab', 'release the claimed lab'),
  CheckLab: labLink('checkLab', "run the scenario's check on it"),
  NextHint: labLink('nextHint', 'reveal its next hint'),
  ExtendLab: labLink('extendLab', 'push its expiry out'),
  TerminalLink: labLink('terminalLink', 'a one-time link to its browser terminal'),
};

export const listScenarios = createRoute({
  operationId: 'listScenarios',
  method: 'get',
  path: '/v1/scenarios',
  tags: ['scenarios'],
  summary: 'Scenarios learners may claim, with the pool that serves each',
  security,
  responses: { 200: json(z.object({ scenarios: z.array(ScenarioSummary) }), 'the catalog'), ...common },
});

export const getScenario = createRoute({
  operationId: 'getScenario',
  method: 'get',
  path: '/v1/scenarios/{id}',
  tags: ['scenarios'],
  summary: 'One scenario: its brief, limits and number of hints',
  security,
  request: { params: ScenarioId },
  responses: { 200: json(ScenarioDetail, 'the scenario'), 404: problem('no such scenario'), ...common },
});

export const listPools = createRoute({
  operationId: 'listPools',
  method: 'get',
  path: '/v1/pools',
  tags: ['pools'],
  summary: 'Every pool: labs by state against min/max, and learners waiting',
  security,
  responses: { 200: json(z.object({ pools: z.array(PoolStatus) }), 'pool status'), ...common },
});

export const claimLab = createRoute({
  operationId: 'claimLab',
  method: 'post',
  path: '/v1/labs',
  tags: ['labs'],
  summary: 'Claim a lab of a scenario for a learner',
  description:
    "Takes a ready lab of the scenario's pool, installs the learner's key (registered, given, or a fresh ed25519 pair returned once as privateKey), applies the scenario's break and answers with SSH connection details. Send an Idempotency-Key (a random UUID) so a retried request returns the first result instead of claiming again.",
  security,
  request: {
    headers: z.object({ 'idempotency-key': IdempotencyKey }),
    body: { content: { 'application/json': { schema: ClaimBody } }, required: true },
  },
  responses: {
    201: {
      ...json(ClaimResult, 'the lab and how to log in'),
      headers: {
        Location: { description: 'The lab: /v1/labs/{id}', schema: { type: 'string' as const } },
        'Idempotent-Replayed': {
          description: 'true when this is the stored answer to an earlier request with the same Idempotency-Key',
          schema: { type: 'string' as const, enum: ['true'] },
        },
      },
      links: claimLinks,
    },
    404: problem('no such scenario'),
    409: problem('the learner already holds a lab (labId names it), or the Idempotency-Key was used differently'),
    502: problem('the lab could not be prepared; it was discarded, claim again'),
    503: {
      ...problem('no ready lab: queuePosition and provisioning say where the learner stands; see Retry-After'),
      headers: retryAfter('before asking again'),
    },
    ...common,
  },
});

export const getLab = createRoute({
  operationId: 'getLab',
  method: 'get',
  path: '/v1/labs/{id}',
  tags: ['labs'],
  summary: 'A lab: state, time left, hints revealed, connection while claimed',
  security,
  request: { params: LabId },
  responses: { 200: json(Lab, 'the lab'), 404: problem('no such lab'), ...common },
});

export const checkLab = createRoute({
  operationId: 'checkLab',
  method: 'post',
  path: '/v1/labs/{id}/check',
  tags: ['labs'],
  summary: "Run the scenario's check on the lab",
  security,
  request: { params: LabId },
  responses: {
    200: json(CheckResult, 'solved or not, with what is still wrong'),
    404: problem('no such lab'),
    409: problem('the lab is not claimed'),
    ...common,
  },
});

export const nextHint = createRoute({
  operationId: 'nextHint',
  method: 'post',
  path: '/v1/labs/{id}/hints',
  tags: ['labs'],
  summary: 'Reveal the next hint',
  security,
  request: { params: LabId },
  responses: {
    200: json(HintResult, 'the hint'),
    404: problem('no such lab'),
    409: problem('no hint left, or the lab is not claimed'),
    ...common,
  },
});

export const extendLab = createRoute({
  operationId: 'extendLab',
  method: 'post',
  path: '/v1/labs/{id}/extend',
  tags: ['labs'],
  summary: "Push the lab's expiry out (capped at twice the scenario's time limit)",
  security,
  request: { params: LabId, body: { content: { 'application/json': { schema: ExtendBody } }, required: false } },
  responses: {
    200: json(Lab, 'the lab with its new expiry'),
    404: problem('no such lab'),
    409: problem('at the cap, or not claimed'),
    ...common,
  },
});

export const releaseLab = createRoute({
  operationId: 'releaseLab',
  method: 'delete',
  path: '/v1/labs/{id}',
  tags: ['labs'],
  summary: 'Release a lab: the key is removed and the NodePort closed at once; teardown follows',
  security,
  request: { params: LabId },
  responses: {
    200: json(Lab, 'the lab, releasing (again for a lab already released)'),
    404: problem('no such lab'),
    409: problem('nobody claimed the lab: it is still in its pool'),
    ...common,
  },
});

export const terminalLink = createRoute({
  operationId: 'terminalLink',
  method: 'post',
  path: '/v1/labs/{id}/terminal-link',
  tags: ['labs'],
  summary: "A one-time link to the lab's browser terminal (valid 5 minutes, single use)",
  description:
    "For the lab's learner, handed out by the Slack bot and `labctl open`. The link opens a shell on the control plane as the learner in any browser; a second use, or a use after 5 minutes, is refused, and the terminal closes when the lab ends.",
  security,
  request: { params: LabId },
  responses: {
    201: json(TerminalLink, 'the link and when it stops working'),
    404: problem('no such lab'),
    409: problem('the lab is not claimed'),
    ...common,
  },
});

export const currentLab = createRoute({
  operationId: 'currentLab',
  method: 'get',
  path: '/v1/learners/{learner}/lab',
  tags: ['learners'],
  summary: 'The lab a learner holds',
  security,
  request: { params: Learner },
  responses: { 200: json(Lab, "the learner's lab"), 404: problem('the learner holds no lab'), ...common },
});

export const registerKey = createRoute({
  operationId: 'registerKey',
  method: 'put',
  path: '/v1/learners/{learner}/ssh-key',
  tags: ['learners'],
  summary: "Register the public key installed at the learner's next claims",
  security,
  request: { params: Learner, body: { content: { 'application/json': { schema: KeyBody } }, required: true } },
  responses: { 200: json(KeyResult, "the key's fingerprint"), ...common },
});

export const adminLabs = createRoute({
  operationId: 'adminLabs',
  method: 'get',
  path: '/v1/admin/labs',
  tags: ['admin'],
  summary: 'Every live lab (admin, instructor)',
  security,
  request: {
    query: z.object({
      state: z.enum(['provisioning', 'ready', 'claimed', 'releasing', 'failed', 'deleted']).optional(),
    }),
  },
  responses: { 200: json(z.object({ labs: z.array(Lab) }), 'labs'), ...common },
});

export const forceRelease = createRoute({
  operationId: 'forceRelease',
  method: 'post',
  path: '/v1/admin/labs/{id}/release',
  tags: ['admin'],
  summary: 'Release any lab now (admin)',
  security,
  request: { params: LabId },
  responses: { 200: json(Lab, 'the lab, releasing'), 404: problem('no such lab'), ...common },
});
