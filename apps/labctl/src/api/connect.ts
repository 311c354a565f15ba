import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type BreakfixClient, createClient } from '@breakfix/client';
import { InvalidInputError, NotFoundError, UpstreamError } from '@breakfix/core';

/** Where the API is: BREAKFIX_API_URL + BREAKFIX_TOKEN, else a running sandbox's .breakfix/sandbox.json. */
export function resolveApi(
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): { baseUrl: string; token: string } {
  if (env.BREAKFIX_API_URL !== undefined && env.BREAKFIX_API_URL !== '') {
    if (env.BREAKFIX_TOKEN === undefined || env.BREAKFIX_TOKEN === '') {
      throw new InvalidInputError('BREAKFIX_API_URL is set but BREAKFIX_TOKEN is not', {
        hint: 'export BREAKFIX_TOKEN=<a token from the tokens file>',
      });
    }
    return { baseUrl: env.BREAKFIX_API_URL, token: env.BREAKFIX_TOKEN };
  }
  // The sandbox writes .breakfix/sandbox.json at the repository root: look up from here.
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const file = join(dir, '.breakfix', 'sandbox.json');
    if (existsSync(file)) {
      const info = JSON.parse(readFileSync(file, 'utf8')) as { apiUrl?: string; apiToken?: string };
      if (info.apiUrl !== undefined && info.apiToken !== undefined) {
        return { baseUrl: info.apiUrl, token: env.BREAKFIX_TOKEN || info.apiToken };
      }
    }
    if (dirname(dir) === dir) break;
  }
  throw new NotFoundError('no breakfix API found', {
    hint: 'start one with `npm run sandbox`, or export BREAKFIX_API_URL and BREAKFIX_TOKEN',
  });
}

export function connect(): BreakfixClient {
  const api = resolveApi();
  return createClient({ ...api, fetch: reachable(api.baseUrl) });
}

/** fetch, but a server that cannot be reached is named, with what to do, instead of "fetch failed". */
function reachable(baseUrl: string): typeof fetch {
  return async (input, init) => {
    try {
      return await fetch(input, init);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      const cause = error.cause instanceof Error ? error.cause.message : error.message;
      throw new UpstreamError(`cannot reach the breakfix API at ${baseUrl}: ${cause}`, {
        hint: 'is it running? `npm run sandbox` starts one; BREAKFIX_API_URL names another',
        cause: error,
      });
    }
  };
}

/** Whom lab commands act for: --learner, else BREAKFIX_LEARNER, else the local user name. */
export function learnerName(flag: string | undefined): string {
  return flag ?? (process.env.BREAKFIX_LEARNER || userInfo().username);
}
