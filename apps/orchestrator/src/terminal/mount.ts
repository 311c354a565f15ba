import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Environment } from '@breakfix/pool';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { AuthEnv } from '../http/auth.js';
import { readCookie, SESSION_COOKIE, type TerminalAccess, type TerminalGrant } from './access-links.js';
import { ASSETS_PATH, PAGE_HEADERS, renderTerminalError, renderTerminalPage } from './page.js';

export interface TerminalRoutesOptions {
  links: TerminalAccess;
  /** Looks a lab up; undefined when there is no such lab. */
  lab: (id: string) => Promise<Environment | undefined>;
  /** Guards the observer page (admin, instructor). */
  observerAuth: MiddlewareHandler<AuthEnv>;
  /** The orchestrator's origin as browsers see it; its scheme decides the cookie's Secure flag. */
  publicOrigin?: string;
}

const require = createRequire(import.meta.url);
const own = (file: string) => fileURLToPath(new URL(`./assets/${file}`, import.meta.url));
/** The only files served under ASSETS_PATH: xterm.js from node_modules, and our page's own. */
const ASSETS: Record<string, { path: () => string; type: string }> = {
  'xterm.mjs': { path: () => require.resolve('@xterm/xterm/lib/xterm.mjs'), type: 'text/javascript' },
  'xterm.css': { path: () => require.resolve('@xterm/xterm/css/xterm.css'), type: 'text/css' },
  'addon-fit.mjs': { path: () => require.resolve('@xterm/addon-fit/lib/addon-fit.mjs'), type: 'text/javascript' },
  'addon-web-links.mjs': {
    path: () => require.resolve('@xterm/addon-web-links/lib/addon-web-links.mjs'),
    type: 'text/javascript',
  },
  'terminal.js': { path: () => own('terminal.js'), type: 'text/javascript' },
  'terminal.css': { path: () => own('terminal.css'), type: 'text/css' },
};

/** The path of a lab's terminal page; the session cookie is scoped to it (and its socket below it). */
export const terminalPath = (labId: string) => `/labs/${labId}/terminal`;

/**
 * The pages of browser terminals: a one-time link (`/labs/<id>/terminal?link=<token>`) is spent
 * for a session cookie scoped to that lab's path, then the page connects its WebSocket (sockets.ts).
 * Every refusal is a page that says what happened and what to do.
 */
export function mountTerminal(app: Hono<AuthEnv>, options: TerminalRoutesOptions): void {
  const cache = new Map<string, Buffer>();
  app.get(`${ASSETS_PATH}/:file`, async (c) => {
    const asset = ASSETS[c.req.param('file')];
    if (asset === undefined) return c.text('no such asset', 404);
    const file = c.req.param('file');
    const content = cache.get(file) ?? (await readFile(asset.path()));
    cache.set(file, content);
    return c.body(new Uint8Array(content), 200, {
      'Content-Type': `${asset.type}; charset=utf-8`,
      'Cache-Control': 'public, max-age=300',
      'X-Content-Type-Options': 'nosniff',
    });
  });

  const refuse = (c: Context, status: 401 | 403 | 404 | 409 | 410, error: Parameters<typeof renderTerminalError>[0]) =>
    c.html(renderTerminalError(error), status, PAGE_HEADERS);

  /** Why a lab has no terminal for this learner now, as a page; undefined when it has one. */
  async function closedLab(c: Context, grant: TerminalGrant) {
    const env = await options.lab(grant.labId);
    if (env === undefined || env.state !== 'claimed' || env.learner !== grant.learner) {
      const mine = env?.learner === grant.learner;
      return refuse(c, 410, {
        title: mine || env === undefined ? 'This lab has ended' : 'This lab is not yours',
        detail:
          mine || env === undefined
            ? `Lab ${grant.labId} was released or ran out of time, so its terminal is closed.`
            : `Lab ${grant.labId} now belongs to someone else.`,
        action: 'Claim a new lab with /lab start in Slack (or labctl claim), then open it in the browser again.',
      });
    }
    return undefined;
  }

  app.get('/labs/:id/terminal', async (c) => {
    const labId = c.req.param('id');
    const link = c.req.query('link');
    if (link !== undefined) {
      const outcome = await options.links.redeem(labId, link);
      if (!outcome.ok) {
        return refuse(c, outcome.reason === 'used' ? 410 : outcome.reason === 'other-lab' ? 403 : 404, {
          title:
            outcome.reason === 'used'
              ? 'This link was already used'
              : outcome.reason === 'other-lab'
                ? 'This link is for another lab'
                : 'This link has expired',
          detail:
            outcome.reason === 'used'
              ? 'Each browser link opens the terminal once, in one browser; it was opened before.'
              : outcome.reason === 'other-lab'
                ? 'The link was made for a different lab than the one in the address.'
                : 'Browser links work for 5 minutes after they are made, and this one is older or unknown.',
          action: 'Run /lab open in Slack (or labctl open) for a fresh link.',
        });
      }
      const closed = await closedLab(c, outcome.grant);
      if (closed !== undefined) return closed;
      const session = await options.links.startSession(outcome.grant);
      const secure = (options.publicOrigin ?? new URL(c.req.url).origin).startsWith('https:') ? '; Secure' : '';
      c.header(
        'Set-Cookie',
        `${SESSION_COOKIE}=${session}; Path=${terminalPath(labId)}; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(options.links.sessionTtlMs / 1000)}${secure}`,
      );
      return c.html(
        renderTerminalPage({
          labId,
          mode: 'learner',
          socket: `${terminalPath(labId)}/socket`,
          learner: outcome.grant.learner,
          canonicalPath: terminalPath(labId),
        }),
        200,
        PAGE_HEADERS,
      );
    }
    const grant = await options.links.session(labId, readCookie(c.req.header('Cookie'), SESSION_COOKIE));
    if (grant === undefined) {
      return refuse(c, 401, {
        title: 'This terminal needs a fresh link',
        detail: `This browser has no session for lab ${labId} (it expired, or the link was opened elsewhere).`,
        action: 'Run /lab open in Slack (or labctl open) for a new link.',
      });
    }
    const closed = await closedLab(c, grant);
    if (closed !== undefined) return closed;
    return c.html(
      renderTerminalPage({ labId, mode: 'learner', socket: `${terminalPath(labId)}/socket`, learner: grant.learner }),
      200,
      PAGE_HEADERS,
    );
  });

  app.use('/admin/labs/:id/terminal', options.observerAuth);
  app.get('/admin/labs/:id/terminal', async (c) => {
    const labId = c.req.param('id');
    const env = await options.lab(labId);
    if (env === undefined || env.state !== 'claimed') {
      return refuse(c, 404, {
        title: 'No claimed lab to watch',
        detail: `Lab ${labId} is not claimed right now.`,
        action: 'Go back to the dashboard (/admin) and pick a claimed lab.',
      });
    }
    return c.html(
      renderTerminalPage({
        labId,
        mode: 'observer',
        socket: `/admin/labs/${labId}/terminal/socket`,
        learner: env.learner ?? 'nobody',
      }),
      200,
      PAGE_HEADERS,
    );
  });
}
