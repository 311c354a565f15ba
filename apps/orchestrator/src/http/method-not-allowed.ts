import type { MiddlewareHandler } from 'hono';
import { METHOD_NAME_ALL } from 'hono/router';
import { TrieRouter } from 'hono/router/trie-router';
import { EdgeError } from './problem.js';

/** What the middleware reads of the app: Hono's own route list (`app.routes`). */
interface RouteList {
  readonly routes: readonly { method: string; path: string }[];
}

/**
 * Answers a request for a path the app serves, with a method no route of that path declares,
 * with 405 and an `Allow` header naming the methods that path takes (RFC 9110 §15.5.6), instead
 * of the 404 Hono gives any unmatched request. Register it before authentication: the answer
 * depends on the resource, not on the caller. The routes are read on the first request, when
 * every one is registered, and matched by Hono's own router, so patterns mean what they mean to
 * the app. Middleware (`use`, method ALL) declares no method and is left out.
 */
export function methodNotAllowed(app: RouteList): MiddlewareHandler {
  let table: { router: TrieRouter<true>; methods: string[] } | undefined;
  return async (c, next) => {
    table ??= routeTable(app);
    const { router, methods } = table;
    const allowed = methods.filter((method) => router.match(method, c.req.path)[0].length > 0);
    // Hono serves HEAD from the GET route of a path.
    if (allowed.includes('GET')) allowed.push('HEAD');
    if (allowed.length > 0 && !allowed.includes(c.req.method)) {
      const allow = allowed.sort();
      throw new EdgeError('method_not_allowed', `${c.req.path} does not take ${c.req.method}`, {
        hint: `use ${allow.join(', ')}; GET /openapi.json lists every path and method`,
        allow,
      });
    }
    await next();
  };
}

function routeTable(app: RouteList): { router: TrieRouter<true>; methods: string[] } {
  const router = new TrieRouter<true>();
  const methods = new Set<string>();
  for (const route of app.routes) {
    if (route.method === METHOD_NAME_ALL) continue;
    router.add(route.method, route.path, true);
    methods.add(route.method);
  }
  return { router, methods: [...methods] };
}
