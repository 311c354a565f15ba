// The pool worker's entry point: reads configuration, wires real adapters, runs until SIGTERM.
//   BREAKFIX_REDIS_URL           redis://... (the platform's Redis, maxmemory-policy noeviction)
//   BREAKFIX_POOLS_FILE          pools YAML (see packages/manifests/src/pools-config.ts)
//   BREAKFIX_PLATFORM_FILE       platform YAML (packages/manifests/src/spec.ts), without operator.publicKey
//   BREAKFIX_OPERATOR_KEY_FILE   the operator's private key; its public half at <file>.pub
//   BREAKFIX_TICK_CRON           when to top pools up and reap expired labs (default every 15 s)
//   BREAKFIX_RECONCILE_CRON      when to compare Redis with the cluster (default every 3 minutes)
//   BREAKFIX_METRICS_PORT        Prometheus metrics at :<port>/metrics (default 9464)
//   BREAKFIX_IDLE_PROBE_SECONDS  a claimed lab's nodes are asked about learner sessions at most this
//                                often, for pools with idleMinutes (default 60)
//   BREAKFIX_CAPACITY_NODE_SELECTOR  nodes whose free room bounds provisioning
//                                (default kubevirt.io/schedulable=true; empty: no capacity guard)
//   KUBECONFIG                   or in-cluster credentials

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { readEnvConfig } from '@breakfix/core';
import { createKube } from '@breakfix/kube';
import { parsePlatformConfig, parsePoolsConfig } from '@breakfix/manifests';
import {
  createIdleReaper,
  createLabAccess,
  createLabActivity,
  createProvisioner,
  EnvironmentStore,
  NodePortAllocator,
} from '@breakfix/pool';
import { createSshRunner } from '@breakfix/ssh';
import { KubeConfig } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import cron from 'node-cron';
import { pino } from 'pino';
import { parse } from 'yaml';
import { z } from 'zod';
import { createPoolWorker } from './create-pool-worker.js';
import { createPoolMetrics } from './metrics.js';

const env = readEnvConfig(
  z.object({
    BREAKFIX_REDIS_URL: z.string().url(),
    BREAKFIX_POOLS_FILE: z.string().min(1),
    BREAKFIX_PLATFORM_FILE: z.string().min(1),
    BREAKFIX_OPERATOR_KEY_FILE: z.string().min(1),
    BREAKFIX_TICK_CRON: z.string().default('*/15 * * * * *'),
    BREAKFIX_RECONCILE_CRON: z.string().default('*/3 * * * *'),
    BREAKFIX_METRICS_PORT: z.coerce.number().int().min(1).max(65535).default(9464),
    BREAKFIX_IDLE_PROBE_SECONDS: z.coerce.number().int().min(5).default(60),
    /** Nodes whose free room bounds provisioning; empty turns the capacity guard off. */
    BREAKFIX_CAPACITY_NODE_SELECTOR: z.string().default('kubevirt.io/schedulable=true'),
  }),
  { app: 'pool-worker' },
);

const logger = pino({ name: 'pool-worker' });
const log = (message: string) => logger.info(message);
const operatorKey = {
  privateKey: readFileSync(env.BREAKFIX_OPERATOR_KEY_FILE, 'utf8'),
  publicKey: readFileSync(`${env.BREAKFIX_OPERATOR_KEY_FILE}.pub`, 'utf8').trim(),
};
const platformInput = (parse(readFileSync(env.BREAKFIX_PLATFORM_FILE, 'utf8')) ?? {}) as Record<string, unknown>;
const platform = parsePlatformConfig({
  ...platformInput,
  operator: { ...(platformInput.operator as object), publicKey: operatorKey.publicKey },
});
const pools = parsePoolsConfig(parse(readFileSync(env.BREAKFIX_POOLS_FILE, 'utf8')));
const kubeconfig = new KubeConfig();
kubeconfig.loadFromDefault();
const kube = createKube({ kubeconfig });
const connect = () => new Redis(env.BREAKFIX_REDIS_URL, { maxRetriesPerRequest: null });
const store = new EnvironmentStore({ redis: connect() });
const ssh = createSshRunner();
const provisioner = createProvisioner({ kube, store, ssh, platform, operatorKey, log });
const metrics = createPoolMetrics();
const redis = connect();
const subscriber = connect();
const allocator = new NodePortAllocator({ redis, range: platform.nodePorts });
const access = createLabAccess({ kube, store, allocator, ssh, platform, operatorKey, log });
const idle = pools.some((pool) => pool.idleMinutes !== undefined)
  ? createIdleReaper({
      store,
      activity: createLabActivity({ redis }),
      targets: (lab) => access.targets(lab),
      ssh,
      learnerUser: platform.learner.user,
      pools,
      redis,
      probeIntervalMs: env.BREAKFIX_IDLE_PROBE_SECONDS * 1000,
      log,
    })
  : undefined;
const worker = createPoolWorker({
  connection: connect,
  redis,
  store,
  provisioner,
  pools,
  kube,
  metrics,
  allocator,
  ...(idle === undefined ? {} : { idle }),
  // A claim that found its pool empty asks for a tick now rather than at the next cron time.
  subscriber,
  ...(env.BREAKFIX_CAPACITY_NODE_SELECTOR === ''
    ? {}
    : { capacity: { nodeSelector: env.BREAKFIX_CAPACITY_NODE_SELECTOR } }),
  log,
});
const metricsServer = createServer((request, response) => {
  if (request.url !== '/metrics') {
    response.writeHead(404).end();
    return;
  }
  metrics.registry
    .metrics()
    .then((body) => response.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(body));
}).listen(env.BREAKFIX_METRICS_PORT);
await worker.reconcile();

const tasks = [
  cron.schedule(env.BREAKFIX_TICK_CRON, () => worker.tick().then(() => undefined), { noOverlap: true }),
  cron.schedule(env.BREAKFIX_RECONCILE_CRON, () => worker.reconcile().then(() => undefined), { noOverlap: true }),
];
log(`serving pools ${pools.map((p) => p.name).join(', ')} as instance ${platform.instance}`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    log(`${signal}: finishing running jobs`);
    for (const task of tasks) await task.stop();
    subscriber.disconnect();
    metricsServer.close();
    await worker.close();
    ssh.close();
    process.exit(0);
  });
}
