import { z } from '@hono/zod-openapi';
import { PUBLIC_KEY_KINDS, PUBLIC_KEY_LINE } from './public-key-pattern.js';

// The API's shapes: the OpenAPI document, the request validation and the typed client all come
// from these, so they cannot drift apart.

/** A moment, as ISO 8601 in UTC (`Date.toISOString()`). */
const Instant = z.string().openapi({ format: 'date-time', example: '2026-12-01T09:30:00.000Z' });

export const Problem = z
  .object({
    type: z.string().openapi({ example: 'https://breakfix.dev/problems/pool_exhausted' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    /** The stable error code (packages/core ErrorCode, or unauthorized / forbidden / rate_limited / method_not_allowed). */
    code: z.string(),
    hint: z.string().optional(),
    instance: z.string().optional(),
    /** Which fields were wrong, for invalid_input. */
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    /** pool_exhausted: 1 for the first learner waiting. */
    queuePosition: z.number().int().optional(),
    /** pool_exhausted: labs of the pool booting now. */
    provisioning: z.number().int().optional(),
    pool: z.string().optional(),
    /** conflict when the learner already holds a lab. */
    labId: z.string().optional(),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details' });

export const ScenarioSummary = z
  .object({
    id: z.string(),
    title: z.string(),
    difficulty: z.enum(['beginner', 'intermediate', 'advanced']),
    tags: z.array(z.string()),
    kubernetesVersions: z.array(z.string()),
    workers: z.number().int(),
    timeLimitMinutes: z.number().int(),
    /** The pool that serves it, when one does. */
    pool: z.string().nullable(),
  })
  .openapi('ScenarioSummary');

export const ScenarioDetail = ScenarioSummary.extend({
  brief: z.string(),
  egress: z.enum(['none', 'internet']),
  hintCount: z.number().int(),
}).openapi('Scenario');

const StateCounts = z.object({
  provisioning: z.number().int(),
  ready: z.number().int(),
  claimed: z.number().int(),
  releasing: z.number().int(),
  failed: z.number().int(),
});

export const PoolStatus = z
  .object({
    name: z.string(),
    kubernetesVersion: z.string(),
    workers: z.number().int(),
    size: z.string(),
    /** Ready labs the worker keeps. */
    min: z.number().int(),
    /** Labs of the pool in any live state at most. */
    max: z.number().int(),
    maxConcurrentProvisions: z.number().int(),
    /** A claimed lab unused for this long is released (after a warning); null: never. */
    idleMinutes: z.number().int().nullable(),
    counts: StateCounts,
    /** Learners queued for a lab of this pool. */
    waiting: z.number().int(),
    /** Ready + booting labs the pool worker aimed for at its last tick (null before its first). */
    target: z.number().int().nullable(),
    /** What kept the pool below its target at that tick: max, concurrency, capacity or backoff. */
    heldBy: z.string().nullable(),
    /** The pool's latest failed provision and why (e.g. the node bootstrap's own failure message). */
    lastFailure: z.object({ lab: z.string(), reason: z.string(), at: z.number().int() }).nullable(),
  })
  .openapi('PoolStatus');

export const Connection = z
  .object({
    host: z.string(),
    port: z.number().int(),
    user: z.string(),
    /** A known_hosts line for the control plane's pinned host key (StrictHostKeyChecking=yes works). */
    knownHosts: z.string(),
    /** Ready to paste, with the files named as labctl writes them. */
    command: z.string(),
  })
  .openapi('Connection');

export const ClaimConnection = Connection.extend({
  /** Only when breakfix generated the key pair: returned once (and to a replay of the same Idempotency-Key), never stored in clear. */
  privateKey: z.string().optional(),
}).openapi('ClaimConnection');

export const Lab = z
  .object({
    id: z.string(),
    pool: z.string(),
    state: z.enum(['provisioning', 'ready', 'claimed', 'releasing', 'failed', 'deleted']),
    learner: z.string().nullable(),
    scenario: z.string().nullable(),
    claimedAt: Instant.nullable(),
    expiresAt: Instant.nullable(),
    secondsLeft: z.number().int().nullable(),
    hintsRevealed: z.number().int(),
    hintsTotal: z.number().int(),
    /** Why breakfix lost touch with the lab (a dropped connection, a changed host key); null when fine. */
    attention: z.string().nullable(),
    connection: Connection.nullable(),
    /**
     * Set while the lab sits idle and its learner has been warned: it is released at `releaseAt`
     * (ISO 8601) unless they use it (SSH, browser terminal) or extend it. Null otherwise.
     */
    idle: z.object({ warnedAt: Instant, releaseAt: Instant }).nullable(),
    /** Why and when a claimed lab ended, said for the learner; null while it runs. */
    ended: z
      .object({ reason: z.enum(['released', 'expired', 'idle', 'lost']), at: Instant, message: z.string() })
      .nullable(),
  })
  .openapi('Lab');

export const ClaimResult = z.object({ lab: Lab, connection: ClaimConnection }).openapi('ClaimResult');

/** A learner's name, as tokens and learners are named (letters, digits and . _ @ -, at most 64). */
export const LearnerName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._@-]{1,64}$/, 'letters, digits and . _ @ -, at most 64');

/**
 * One OpenSSH public key line, as `~/.ssh/id_ed25519.pub` holds it. The pattern is exact: a line
 * it accepts decodes as a key of its type (public-key-pattern.ts), so the document says all there
 * is to say about an acceptable key.
 */
export const PublicKeyLine = z
  .string()
  .regex(PUBLIC_KEY_LINE, {
    error: (issue) =>
      String(issue.input).includes('PRIVATE KEY')
        ? 'that is a private key: never share it; send the .pub file (e.g. `cat ~/.ssh/id_ed25519.pub`)'
        : `not one OpenSSH public key line of a kind breakfix takes: ${PUBLIC_KEY_KINDS}, then an optional comment`,
  })
  .openapi({
    description: `One OpenSSH public key line (the .pub file): ${PUBLIC_KEY_KINDS}, then an optional comment.`,
    example: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ada@laptop',
  });

export const ClaimBody = z
  .object({
    /** Whom the lab is for. Defaults to the caller's own name; only bot and admin may name someone else. */
    learner: LearnerName.optional(),
    scenario: z.string().min(1),
    /** Without it (and without a registered key) a key pair is generated. */
    publicKey: PublicKeyLine.optional(),
  })
  .openapi('ClaimRequest');

export const ExtendBody = z.object({ minutes: z.number().int().min(1).max(120).default(15) }).openapi('ExtendRequest');

export const CheckResult = z
  .object({ solved: z.boolean(), feedback: z.array(z.string()), checkedAt: Instant })
  .openapi('CheckResult');

export const HintResult = z
  .object({ index: z.number().int(), total: z.number().int(), remaining: z.number().int(), hint: z.string() })
  .openapi('Hint');

export const TerminalLink = z
  .object({
    /** Opens the lab's browser terminal once, in one browser, as the lab's learner. */
    url: z.string().openapi({ format: 'uri', example: 'https://labs.example.com/labs/e1a2b3c4d5/terminal?link=…' }),
    /** The link must be opened before this (ISO 8601); afterwards ask for a new one. */
    expiresAt: Instant,
  })
  .openapi('TerminalLink', {
    description:
      "A one-time link to the lab's browser terminal. Opening it sets a session cookie scoped to that lab's terminal; a second opening is refused.",
  });

export const KeyBody = z.object({ publicKey: PublicKeyLine }).openapi('RegisterKeyRequest');
export const KeyResult = z.object({ learner: z.string(), fingerprint: z.string() }).openapi('RegisteredKey');

export type ProblemBody = z.infer<typeof Problem>;
export type ScenarioSummaryBody = z.infer<typeof ScenarioSummary>;
export type ScenarioDetailBody = z.infer<typeof ScenarioDetail>;
export type PoolStatusBody = z.infer<typeof PoolStatus>;
export type LabBody = z.infer<typeof Lab>;
export type ConnectionBody = z.infer<typeof Connection>;
export type ClaimResultBody = z.infer<typeof ClaimResult>;
export type CheckResultBody = z.infer<typeof CheckResult>;
export type HintBody = z.infer<typeof HintResult>;
export type KeyResultBody = z.infer<typeof KeyResult>;
export type TerminalLinkBody = z.infer<typeof TerminalLink>;
