import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createKube } from '@breakfix/kube';
import { parseLabSpec, parsePoolsConfig } from '@breakfix/manifests';
import { createLabAccess, EnvironmentStore, NodePortAllocator } from '@breakfix/pool';
import { createScenarioRunner, loadCatalog, type Scenario } from '@breakfix/scenarios';
import { SHARED_NODE_PORTS, uniqueName, useSandbox } from '@breakfix/testkit';
import { Redis } from 'ioredis';
import { simulatedLabs } from '../../../packages/pool/test/simulated-labs.js';
import { type AppDeps, createApp, createWorkerQueues } from '../src/index.js';

/** The sandbox's simulated scenario, and a copy for a topology whose pool stays empty. */
export const SCENARIO = 'sim-kubeconfig-drift';
export const EMPTY_SCENARIO = 'sim-kubeconfig-drift-1w';
/** A scenario that needs Calico, which no fixture pool runs. */
export const UNSERVED_SCENARIO = 'sim-kubeconfig-drift-calico';

const token = () => randomBytes(24).toString('hex');
export const TOKENS = {
  admin: { name: 'ops', role: 'admin' as const, token: token() },
  instructor: { name: 'ines', role: 'instructor' as const, token: token() },
  bot: { name: 'slackbot', role: 'bot' as const, token: token() },
};

const connections: Redis[] = [];
/** Disconnects every Redis connection the fixtures opened (call in `after`). */
export async function closeFixtures(closers: (() => Promise<void>)[] = []): Promise<void> {
  for (const close of closers) await close();
  for (const connection of connections) connection.disconnect();
}

/**
 * A platform on the shared sandbox: its own Redis prefix, one pool of `ready` simulated labs for
 * SCENARIO (Kubernetes 1.36, no workers) and an empty one-worker pool, the real claim-time access,
 * scenario runner and teardown queue, and the app over them.
 */
export async function startPlatform(
  options: { ready?: number; publicHost?: string; overrides?: Partial<AppDeps> } = {},
) {
  const { info } = await useSandbox();
  const connect = () => {
    const redis = new Redis(info.redisUrl, { maxRetriesPerRequest: null });
    connections.push(redis);
    return redis;
  };
  const name = uniqueName('api');
  const prefix = `${name}:`;
  const redis = connect();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const store = new EnvironmentStore({ redis, prefix });
  const { operatorKey, platform, ssh, provisioner } = simulatedLabs(kube, store);
  const allocator = new NodePortAllocator({ redis, prefix, range: SHARED_NODE_PORTS });
  const access = createLabAccess({
    kube,
    store,
    allocator,
    ssh,
    platform,
    operatorKey,
    // Learners reach labs as on KubeVirt: the control plane's node at the lab's NodePort (or a
    // name standing for it).
    ...(options.publicHost === undefined ? {} : { publicHost: options.publicHost }),
  });
  const pools = parsePoolsConfig({
    pools: [
      { name: `${name}-0w`, kubernetesVersion: '1.36', workers: 0, size: 'small', min: 2, max: 4 },
      { name: `${name}-1w`, kubernetesVersion: '1.36', workers: 1, size: 'small', min: 1, max: 2 },
    ],
  });
  const sim = loadCatalog().get(SCENARIO) ?? assert.fail(`scenario ${SCENARIO} is in the catalog`);
  const catalog = new Map<string, Scenario>([
    [SCENARIO, sim],
    [EMPTY_SCENARIO, { ...sim, id: EMPTY_SCENARIO, topology: { workers: 1 } }],
    [UNSERVED_SCENARIO, { ...sim, id: UNSERVED_SCENARIO, cni: 'calico' }],
  ]);
  const queues = createWorkerQueues({ connection: connect, prefix: name });
  const app = createApp({
    store,
    access,
    runner: createScenarioRunner({ ssh, stateDir: '/tmp/breakfix-scenario-state' }),
    catalog,
    pools,
    redis,
    prefix,
    tokens: Object.values(TOKENS),
    teardown: queues.teardown,
    queues: queues.queues,
    ...options.overrides,
  });
  const outcomes = await Promise.all(
    Array.from({ length: options.ready ?? 2 }, () => {
      const id = uniqueName('e');
      return provisioner.provision({
        id,
        pool: `${name}-0w`,
        spec: parseLabSpec({ labId: id, kubernetesVersion: '1.36' }),
      });
    }),
  );
  assert.ok(
    outcomes.every((o) => o === 'ready'),
    `labs booted: ${outcomes.join(', ')}`,
  );
  return { app, store, kube, allocator, access, provisioner, queues, pools, prefix, redis, info, pool: `${name}-0w` };
}

/** Request helper for app.request(): JSON body, bearer token, extra headers. */
export function call(
  app: { request: (path: string, init?: RequestInit) => Response | Promise<Response> },
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  return app.request(path, {
    method,
    headers,
    ...(options.body === undefined
      ? {}
      : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
  });
}
