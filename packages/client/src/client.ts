import type { AppType } from '@breakfix/orchestrator';
import { hc } from 'hono/client';
import { ApiError } from './api-error.js';

export interface ClientOptions {
  /** Where the orchestrator listens, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** A bearer token from the tokens file (admin, instructor or bot). */
  token: string;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
}

type Ok<R> = R extends { ok: true; json(): Promise<infer B> } ? B : never;

/** The success body, or an ApiError with the problem+json. */
async function unwrap<R extends { ok: boolean; json(): Promise<unknown> }>(pending: Promise<R>): Promise<Ok<R>> {
  const response = await pending;
  if (!response.ok) throw await ApiError.from(response as unknown as Response);
  return (await response.json()) as Ok<R>;
}

/** A client with one method per route; see index.ts. */
export function createClient(options: ClientOptions) {
  const api = hc<AppType>(options.baseUrl.replace(/\/$/, ''), {
    headers: { Authorization: `Bearer ${options.token}` },
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  const v1 = api.v1;
  return {
    /** The raw typed tree (`api.v1.labs[':id'].$get(...)`). */
    api,
    scenarios: {
      list: () => unwrap(v1.scenarios.$get()),
      get: (id: string) => unwrap(v1.scenarios[':id'].$get({ param: { id } })),
    },
    pools: {
      list: () => unwrap(v1.pools.$get()),
    },
    labs: {
      /**
       * Claims a lab. Pass an idempotencyKey (a fresh UUID per intended claim) and retry with the
       * same key after a network failure: the first result comes back, private key included.
       */
      claim: (
        body: { scenario: string; learner?: string; publicKey?: string },
        opts: { idempotencyKey?: string } = {},
      ) =>
        unwrap(
          v1.labs.$post({
            json: body,
            header: opts.idempotencyKey === undefined ? {} : { 'idempotency-key': opts.idempotencyKey },
          }),
        ),
      get: (id: string) => unwrap(v1.labs[':id'].$get({ param: { id } })),
      check: (id: string) => unwrap(v1.labs[':id'].check.$post({ param: { id } })),
      /** Reveals the next hint. */
      hint: (id: string) => unwrap(v1.labs[':id'].hints.$post({ param: { id } })),
      extend: (id: string, minutes?: number) =>
        unwrap(v1.labs[':id'].extend.$post({ param: { id }, json: minutes === undefined ? {} : { minutes } })),
      release: (id: string) => unwrap(v1.labs[':id'].$delete({ param: { id } })),
      /** A one-time link to the lab's browser terminal (5 minutes, single use). */
      terminalLink: (id: string) => unwrap(v1.labs[':id']['terminal-link'].$post({ param: { id } })),
    },
    learners: {
      /** The learner's lab; rejects with code not_found when they hold none. */
      currentLab: (learner: string) => unwrap(v1.learners[':learner'].lab.$get({ param: { learner } })),
      registerKey: (learner: string, publicKey: string) =>
        unwrap(v1.learners[':learner']['ssh-key'].$put({ param: { learner }, json: { publicKey } })),
    },
    admin: {
      labs: (query: { state?: 'provisioning' | 'ready' | 'claimed' | 'releasing' | 'failed' | 'deleted' } = {}) =>
        unwrap(v1.admin.labs.$get({ query })),
      forceRelease: (id: string) => unwrap(v1.admin.labs[':id'].release.$post({ param: { id } })),
    },
  };
}

export type BreakfixClient = ReturnType<typeof createClient>;
