import { ConflictError, NotFoundError } from '@breakfix/core';
import type { Environment } from '@breakfix/pool';
import { poolsServing, type Scenario } from '@breakfix/scenarios';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Queue } from 'bullmq';
import { mountDashboard } from './dashboard/mount.js';
import { renderDocsPage } from './docs-page.js';
import {
  type ApiToken,
  type AuthEnv,
  actingFor,
  type Caller,
  createTokenLookup,
  ROLES,
  requireRole,
} from './http/auth.js';
import { createIdempotency } from './http/idempotency.js';
import { methodNotAllowed } from './http/method-not-allowed.js';
import { type ApiMetrics, createApiMetrics } from './http/metrics.js';
import { EdgeError, FieldsInvalidError, problemResponse } from './http/problem.js';
import { createRateLimiter } from './http/rate-limit.js';
import { createLabService, type LabServiceOptions } from './labs.js';
import { poolStatus } from './pools.js';
import * as routes from './routes.js';
import type { ScenarioSummaryBody } from './schemas.js';
import { createTerminalAccess } from './terminal/access-links.js';
import { mountTerminal, terminalPath } from './terminal/mount.js';

/** The lab service's dependencies, plus what the HTTP layer needs on top. */
export interface AppDeps extends Omit<LabServiceOptions, 'prefix'> {
  /** Key prefix shared with the EnvironmentStore. Default `breakfix:`. */
  prefix?: string;
  tokens: readonly ApiToken[];
  /** BullMQ queues shown at /admin/queues (bull-board). None: no queue board. */
  queues?: readonly Queue[];
  /** Per learner. Default 60 requests per 60 s. */
  rateLimit?: { limit?: number; windowMs?: number };
  metrics?: ApiMetrics;
  /** /readyz fails while this throws. Default: Redis answers PING. */
  ready?: () => Promise<void>;
  /** The orchestrator's origin as browsers see it (`https://labs.example.com`): terminal links start with it. Default: the request's. */
  publicUrl?: string;
}

/**
 * The orchestrator's HTTP app: the versioned API (/v1), its OpenAPI document (/openapi.json) and
 * docs page (/docs), probes (/healthz, /readyz), /metrics, and the operator dashboard (/admin).
 */
export function createApp(deps: AppDeps) {
  const prefix = deps.prefix ?? 'breakfix:';
  const metrics = deps.metrics ?? createApiMetrics();
  const lookup = createTokenLookup(deps.tokens);
  const limit = createRateLimiter({ redis: deps.redis, prefix, ...deps.rateLimit });
  const once = createIdempotency({ redis: deps.redis, prefix });
  const {
    tokens: _tokens,
    queues: _queues,
    rateLimit: _rateLimit,
    metrics: _metrics,
    ready: _ready,
    publicUrl: _publicUrl,
    ...service
  } = deps;
  const labs = createLabService({ ...service, prefix });
  const terminalLinks = createTerminalAccess({ redis: deps.redis, prefix, ...(deps.now ? { now: deps.now } : {}) });

  const app = new OpenAPIHono<AuthEnv>({
    // Every validation failure becomes one invalid_input problem naming the fields.
    defaultHook: (result) => {
      if (!result.success) {
        throw new FieldsInvalidError(
          result.error.issues.map((issue) => ({
            field: issue.path.length === 0 ? result.target : issue.path.join('.'),
            message: issue.message,
          })),
        );
      }
    },
  });
  app.onError((error, c) => problemResponse(error, c, deps.log));
  app.notFound((c) => problemResponse(new NotFoundError(`no route ${c.req.method} ${c.req.path}`), c));

  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    metrics.observe(c.req.method, c.req.routePath, c.res.status, (performance.now() - started) / 1000);
  });
  app.use('*', methodNotAllowed(app));
  app.use('/v1/*', requireRole(lookup, ROLES));
  app.use('/v1/admin/*', requireRole(lookup, ['admin', 'instructor']));

  /** Lab routes: bots and admins act on any lab, an instructor on their own; rate limited per learner. */
  async function labFor(caller: Caller, id: string): Promise<Environment> {
    const env = await labs.get(id);
    if (caller.role === 'instructor' && env.learner !== caller.name) {
      throw new EdgeError('forbidden', `lab ${id} is not yours`, { hint: 'use a bot or admin token' });
    }
    await limit(env.learner ?? caller.name);
    return env;
  }

  const summary = (scenario: Scenario): ScenarioSummaryBody => ({
    id: scenario.id,
    title: scenario.title,
    difficulty: scenario.difficulty,
    tags: scenario.tags,
    kubernetesVersions: scenario.kubernetesVersions,
    workers: scenario.topology.workers,
    timeLimitMinutes: scenario.timeLimitMinutes,
    pool: poolsServing(scenario, deps.pools)[0]?.name ?? null,
  });

  const api = app
    .openapi(routes.listScenarios, (c) => c.json({ scenarios: [...deps.catalog.values()].map(summary) }, 200))
    .openapi(routes.getScenario, (c) => {
      const scenario = deps.catalog.get(c.req.valid('param').id);
      if (scenario === undefined)
        return notFound(`no scenario ${c.req.valid('param').id}`, 'GET /v1/scenarios lists them');
      return c.json(
        { ...summary(scenario), brief: scenario.brief, egress: scenario.egress, hintCount: scenario.hints.length },
        200,
      );
    })
    .openapi(routes.listPools, async (c) =>
      c.json({ pools: await poolStatus(deps.pools, deps.store, deps.redis, prefix) }, 200),
    )
    .openapi(routes.claimLab, async (c) => {
      const body = c.req.valid('json');
      const caller = c.get('caller');
      const learner = actingFor(caller, body.learner);
      await limit(learner);
      const request = {
        learner,
        scenario: body.scenario,
        ...(body.publicKey === undefined ? {} : { publicKey: body.publicKey }),
      };
      const key = c.req.valid('header')['idempotency-key'];
      try {
        const { result, replayed } =
          key === undefined
            ? { result: await labs.claim(request), replayed: false }
            : await once(caller.name, key, request, () => labs.claim(request));
        metrics.claim(replayed ? 'replayed' : 'claimed');
        if (replayed) c.header('Idempotent-Replayed', 'true');
        c.header('Location', `/v1/labs/${result.lab.id}`);
        return c.json(result, 201);
      } catch (error) {
        metrics.claim((error as { code?: string }).code ?? 'error');
        throw error;
      }
    })
    .openapi(routes.getLab, async (c) => {
      const env = await labFor(c.get('caller'), c.req.valid('param').id);
      return c.json(await labs.view(env), 200);
    })
    .openapi(routes.checkLab, async (c) => {
      const env = await labFor(c.get('caller'), c.req.valid('param').id);
      return c.json(await labs.check(env.id), 200);
    })
    .openapi(routes.nextHint, async (c) => {
      const env = await labFor(c.get('caller'), c.req.valid('param').id);
      return c.json(await labs.nextHint(env.id), 200);
    })
    .openapi(routes.extendLab, async (c) => {
      const env = await labFor(c.get('caller'), c.req.valid('param').id);
      const minutes = (c.req.valid('json') as { minutes?: number } | undefined)?.minutes ?? 15;
      return c.json(await labs.extend(env.id, minutes), 200);
    })
    .openapi(routes.releaseLab, async (c) => {
      const env = await labFor(c.get('caller'), c.req.valid('param').id);
      // Releasing ends a claim: a lab nobody claimed stays in its pool (a repeated release, of a
      // lab releasing or gone, is answered as the first one was).
      if (env.state !== 'claimed' && env.state !== 'releasing' && env.state !== 'deleted') {
        throw new ConflictError(`lab ${env.id} is ${env.state}: nobody claimed it, so there is nothing to release`, {
          hint: 'release the lab a learner holds (GET /v1/learners/{learner}/lab names it)',
        });
      }
      return c.json(await labs.release(env.id), 200);
    })
    .openapi(routes.terminalLink, async (c) => {
      const env = await labFor(c.get('caller'), c.req.valid('param').id);
      if (env.state !== 'claimed' || env.learner === undefined) {
        throw new ConflictError(`lab ${env.id} is ${env.state}, not claimed`, { hint: 'claim a new lab' });
      }
      const { token, expiresAt } = await terminalLinks.issue({ labId: env.id, learner: env.learner });
      const origin = deps.publicUrl === undefined ? new URL(c.req.url).origin : new URL(deps.publicUrl).origin;
      const url = `${origin}${terminalPath(env.id)}?link=${token}`;
      return c.json({ url, expiresAt: new Date(expiresAt).toISOString() }, 201);
    })
    .openapi(routes.currentLab, async (c) => {
      const learner = actingFor(c.get('caller'), c.req.valid('param').learner);
      await limit(learner);
      return c.json(await labs.view(await labs.current(learner)), 200);
    })
    .openapi(routes.registerKey, async (c) => {
      const learner = actingFor(c.get('caller'), c.req.valid('param').learner);
      await limit(learner);
      return c.json(await labs.registerKey(learner, c.req.valid('json').publicKey), 200);
    })
    .openapi(routes.adminLabs, async (c) => {
      const state = c.req.valid('query').state;
      const all = await labs.list(state === undefined ? {} : { state });
      return c.json({ labs: await Promise.all(all.map((env) => labs.view(env))) }, 200);
    })
    .openapi(routes.forceRelease, async (c) => {
      if (c.get('caller').role !== 'admin') {
        throw new EdgeError('forbidden', 'only an admin may force-release a lab', { hint: 'ask an operator' });
      }
      const env = await labs.get(c.req.valid('param').id);
      deps.log?.(`${c.get('caller').name} force-released ${env.id} of ${env.learner ?? 'nobody'}`);
      return c.json(await labs.release(env.id), 200);
    });

  const document = {
    openapi: '3.1.0',
    info: {
      title: 'breakfix orchestrator API',
      version: '1',
      description:
        'Hands out breakable Kubernetes labs. Authenticate with `Authorization: Bearer <token>`; errors are RFC 9457 problem+json.',
    },
  };
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  app.doc31('/openapi.json', document);
  app.get('/docs', (c) => c.html(renderDocsPage(app.getOpenAPI31Document(document))));
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    try {
      await (deps.ready ?? (async () => void (await deps.redis.ping())))();
      return c.json({ status: 'ready' });
    } catch (error) {
      return c.json({ status: 'not ready', reason: (error as Error).message }, 503);
    }
  });
  app.get('/metrics', async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }),
  );
  mountTerminal(app, {
    links: terminalLinks,
    lab: (id) => deps.store.get(id).catch(() => undefined),
    observerAuth: requireRole(lookup, ['admin', 'instructor']),
    ...(deps.publicUrl === undefined ? {} : { publicOrigin: deps.publicUrl }),
  });
  mountDashboard(app, {
    auth: requireRole(lookup, ['admin', 'instructor']),
    labs,
    pools: () => poolStatus(deps.pools, deps.store, deps.redis, prefix),
    queues: deps.queues ?? [],
    now: deps.now ?? Date.now,
  });
  return api;
}

function notFound(detail: string, hint?: string): never {
  throw new NotFoundError(detail, hint === undefined ? {} : { hint });
}

export type App = ReturnType<typeof createApp>;
