// The orchestrator's entry point: reads configuration, wires real adapters, serves until SIGTERM.
//   PORT                          HTTP port (default 8080)
//   BREAKFIX_REDIS_URL            redis://... (the platform's Redis, shared with the pool worker)
//   BREAKFIX_POOLS_FILE           pools YAML (packages/manifests/src/pools-config.ts)
//   BREAKFIX_PLATFORM_FILE        platform YAML (packages/manifests/src/spec.ts), without operator.publicKey
//   BREAKFIX_OPERATOR_KEY_FILE    the operator's private key; its public half at <file>.pub
//   BREAKFIX_SCENARIOS_DIR        the scenario catalog (one folder per scenario)
//   BREAKFIX_TOKENS_FILE          YAML list of {name, role: admin|instructor|bot, token}
//   BREAKFIX_PUBLIC_HOST          optional: the name learners connect to instead of a node address
//   BREAKFIX_PUBLIC_URL           optional: the orchestrator's URL as browsers see it (browser-terminal
//                                 links, the terminal WebSocket's Origin check); default: each request's Host
//   BREAKFIX_KUBECONFIG           optional: a kubeconfig file; else in-cluster credentials
//   BREAKFIX_SIMULATOR_SCENARIOS  optional: 1 offers scenarios written for the sandbox's simulated nodes

import { readFileSync } from 'node:fs';
import { readEnvConfig } from '@breakfix/core';
import { createKube } from '@breakfix/kube';
import { parsePlatformConfig, parsePoolsConfig } from '@breakfix/manifests';
import { loadCatalog } from '@breakfix/scenarios';
import { serve } from '@hono/node-server';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { parse } from 'yaml';
import { z } from 'zod';
import { parseTokens } from './http/auth.js';
import { wireOrchestrator } from './wire.js';

const env = readEnvConfig(
  z.object({
    PORT: z.coerce.number().int().min(1).max(65535).default(8080),
    BREAKFIX_REDIS_URL: z.string().url(),
    BREAKFIX_POOLS_FILE: z.string().min(1),
    BREAKFIX_PLATFORM_FILE: z.string().min(1),
    BREAKFIX_OPERATOR_KEY_FILE: z.string().min(1),
    BREAKFIX_SCENARIOS_DIR: z.string().min(1),
    BREAKFIX_TOKENS_FILE: z.string().min(1),
    BREAKFIX_PUBLIC_HOST: z.string().min(1).optional(),
    BREAKFIX_PUBLIC_URL: z.string().url().optional(),
    BREAKFIX_KUBECONFIG: z.string().min(1).optional(),
    BREAKFIX_SIMULATOR_SCENARIOS: z.enum(['0', '1']).default('0'),
  }),
  { app: 'orchestrator' },
);

const logger = pino({ name: 'orchestrator' });
const log = (message: string) => logger.info(message);
const yamlFile = (path: string) => parse(readFileSync(path, 'utf8')) as unknown;
const operatorKey = {
  privateKey: readFileSync(env.BREAKFIX_OPERATOR_KEY_FILE, 'utf8'),
  publicKey: readFileSync(`${env.BREAKFIX_OPERATOR_KEY_FILE}.pub`, 'utf8').trim(),
};
const platformInput = (yamlFile(env.BREAKFIX_PLATFORM_FILE) ?? {}) as Record<string, unknown>;
const platform = parsePlatformConfig({
  ...platformInput,
  operator: { ...(platformInput.operator as object), publicKey: operatorKey.publicKey },
});
const kubeconfig = new KubeConfig();
if (env.BREAKFIX_KUBECONFIG === undefined) kubeconfig.loadFromCluster();
else kubeconfig.loadFromFile(env.BREAKFIX_KUBECONFIG);
const catalog = new Map(
  [...loadCatalog(env.BREAKFIX_SCENARIOS_DIR)].filter(
    ([, scenario]) => env.BREAKFIX_SIMULATOR_SCENARIOS === '1' || !scenario.simulator,
  ),
);

const orchestrator = wireOrchestrator({
  redisUrl: env.BREAKFIX_REDIS_URL,
  kube: createKube({ kubeconfig }),
  pools: parsePoolsConfig(yamlFile(env.BREAKFIX_POOLS_FILE)),
  platform,
  operatorKey,
  catalog,
  tokens: parseTokens(yamlFile(env.BREAKFIX_TOKENS_FILE)),
  ...(env.BREAKFIX_PUBLIC_HOST === undefined ? {} : { publicHost: env.BREAKFIX_PUBLIC_HOST }),
  ...(env.BREAKFIX_PUBLIC_URL === undefined ? {} : { publicUrl: env.BREAKFIX_PUBLIC_URL }),
  log,
});
const server = serve({ fetch: orchestrator.app.fetch, port: env.PORT });
orchestrator.terminals.attach(server);
log(`serving ${catalog.size} scenario(s) on :${env.PORT}`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log(`${signal}: closing`);
    server.close(async () => {
      await orchestrator.close();
      process.exit(0);
    });
  });
}
