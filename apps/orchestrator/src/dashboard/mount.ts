import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Queue } from 'bullmq';
import type { Hono, MiddlewareHandler } from 'hono';
import type { AuthEnv } from '../http/auth.js';
import type { FailureRecord, LabService } from '../labs.js';
import type { PoolStatusBody } from '../schemas.js';
import { renderDashboard } from './render.js';

export interface DashboardOptions {
  auth: MiddlewareHandler<AuthEnv>;
  labs: Pick<LabService, 'list' | 'view' | 'failures'>;
  pools: () => Promise<PoolStatusBody[]>;
  queues: readonly Queue[];
  now: () => number;
}

const FAILED_JOBS_SHOWN = 20;

/** Failed provision/teardown jobs with BullMQ's failedReason, newest first. */
async function failedJobs(queues: readonly Queue[]): Promise<FailureRecord[]> {
  const lists = await Promise.all(
    queues.map(async (queue) =>
      (await queue.getFailed(0, FAILED_JOBS_SHOWN - 1)).map((job) => ({
        at: job.finishedOn ?? job.timestamp,
        lab: String((job.data as { id?: string }).id ?? job.id),
        pool: String((job.data as { pool?: string }).pool ?? ''),
        reason: `${queue.name} job: ${job.failedReason}`,
      })),
    ),
  );
  return lists.flat();
}

/**
 * /admin (the dashboard page), /admin/login (sets the token cookie a browser sends), and
 * /admin/queues (bull-board over the worker's queues). All but the login need admin or instructor.
 */
export function mountDashboard(app: Hono<AuthEnv>, options: DashboardOptions): void {
  app.get('/admin/login', (c) =>
    c.html(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>breakfix · sign in</title></head>
<body style="font:15px system-ui;margin:3rem"><form method="post" action="/admin/login">
<label>API token <input type="password" name="token" autocomplete="off" size="50"></label>
<button type="submit">Sign in</button></form></body></html>`),
  );
  app.post('/admin/login', async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === 'string' ? form.token : '';
    c.header(
      'Set-Cookie',
      `breakfix_token=${encodeURIComponent(token)}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=43200`,
    );
    return c.redirect('/admin', 303);
  });

  app.use('/admin', options.auth);
  app.use('/admin/queues', options.auth);
  app.use('/admin/queues/*', options.auth);
  app.get('/admin', async (c) => {
    const [pools, live, claimFailures, jobFailures] = await Promise.all([
      options.pools(),
      options.labs.list(),
      options.labs.failures(),
      failedJobs(options.queues),
    ]);
    const active = live.filter((env) => env.state === 'claimed' || env.state === 'releasing');
    const failedLabs: FailureRecord[] = live
      .filter((env) => env.state === 'failed')
      .map((env) => ({ at: env.updatedAt, lab: env.id, pool: env.pool, reason: 'failed while provisioning' }));
    const failures = [...claimFailures, ...jobFailures, ...failedLabs].sort((a, b) => b.at - a.at).slice(0, 30);
    return c.html(
      renderDashboard({
        pools,
        labs: await Promise.all(active.map((env) => options.labs.view(env))),
        failures,
        queueBoard: options.queues.length > 0,
        now: options.now(),
      }),
    );
  });

  if (options.queues.length > 0) {
    const board = new HonoAdapter(serveStatic);
    board.setBasePath('/admin/queues');
    createBullBoard({
      queues: options.queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
      // @bull-board/hono 9.10.1 locks its own @bull-board/api 9.10.1 beside ours (9.10.2): the same
      // interface, declared twice, so TypeScript needs telling.
      serverAdapter: board as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
      options: { uiConfig: { boardTitle: 'breakfix queues' } },
    });
    app.route('/admin/queues', board.registerPlugin());
  }
}
