import type { Kube } from '@breakfix/kube';
import type { PlatformConfig, PoolConfig } from '@breakfix/manifests';
import {
  type ClaimTrace,
  createLabAccess,
  createLabActivity,
  createWarmConnections,
  EnvironmentStore,
  NodePortAllocator,
} from '@breakfix/pool';
import { createScenarioRunner, type Scenario } from '@breakfix/scenarios';
import type { SshKeyPair } from '@breakfix/secrets';
import { createSshRunner, type SshRunnerOptions } from '@breakfix/ssh';
import { Redis } from 'ioredis';
import { createApp } from './app.js';
import type { ApiToken } from './http/auth.js';
import { createApiMetrics } from './http/metrics.js';
import { createWorkerQueues } from './queues.js';
import { createTerminalSockets, type TerminalSocketsOptions } from './terminal/sockets.js';

export interface OrchestratorConfig {
  redisUrl: string;
  kube: Kube;
  pools: readonly PoolConfig[];
  platform: PlatformConfig;
  operatorKey: SshKeyPair;
  catalog: ReadonlyMap<string, Scenario>;
  tokens: readonly ApiToken[];
  /** Redis key prefix of the store (`breakfix:`); queues use it without the colon. */
  prefix?: string;
  publicHost?: string;
  /** The orchestrator's origin as browsers see it: browser-terminal links and the WebSocket's Origin check. */
  publicUrl?: string;
  /** Where scenario break markers live on nodes (the sandbox's guests are not root). */
  scenarioStateDir?: string;
  /** The SSH runner's options (emulated guests need a longer connect deadline). */
  ssh?: SshRunnerOptions;
  /** Told of every step of every claim, timed (benchmarks; see LabAccessOptions.trace). */
  trace?: ClaimTrace;
  /**
   * How often the ready labs are read to keep an operator SSH connection open to each (ADR 22),
   * in ms. Default 1000; 0 keeps none (every claim opens its own).
   */
  keepConnectionsEveryMs?: number;
  /** Browser terminals' timings and bounds (defaults in TerminalSocketsOptions). */
  terminals?: Pick<
    TerminalSocketsOptions,
    'watchHeartbeatMs' | 'maxObserverBufferBytes' | 'maxTerminalsPerLab' | 'pingIntervalMs'
  >;
  log?: (message: string) => void;
}

/**
 * Builds the real adapters (Redis, SSH runner, NodePort allocator, claim-time access, scenario
 * runner, the worker's queues) around createApp. main.ts and the sandbox both start here.
 */
export function wireOrchestrator(config: OrchestratorConfig) {
  const prefix = config.prefix ?? 'breakfix:';
  const connections: Redis[] = [];
  const connect = () => {
    const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
    connections.push(redis);
    return redis;
  };
  const redis = connect();
  const ssh = createSshRunner(config.ssh);
  const store = new EnvironmentStore({ redis, prefix });
  const allocator = new NodePortAllocator({ redis, prefix, range: config.platform.nodePorts });
  const metrics = createApiMetrics();
  const access = createLabAccess({
    onClaim: (event) => metrics.claimDuration(event.pool, event.outcome, event.seconds),
    kube: config.kube,
    store,
    allocator,
    ssh,
    platform: config.platform,
    operatorKey: config.operatorKey,
    ...(config.publicHost === undefined ? {} : { publicHost: config.publicHost }),
    ...(config.trace === undefined ? {} : { trace: config.trace }),
    ...(config.log === undefined ? {} : { log: config.log }),
  });
  const keepEveryMs = config.keepConnectionsEveryMs ?? 1_000;
  const warm = createWarmConnections({
    store,
    ssh,
    platform: config.platform,
    operatorKey: config.operatorKey,
    pools: config.pools.map((pool) => pool.name),
    intervalMs: Math.max(keepEveryMs, 1),
    ...(config.log === undefined ? {} : { log: config.log }),
  });
  if (keepEveryMs > 0) warm.start();
  const runner = createScenarioRunner({
    ssh,
    ...(config.scenarioStateDir === undefined ? {} : { stateDir: config.scenarioStateDir }),
  });
  const queues = createWorkerQueues({ connection: connect, prefix: prefix.replace(/:$/, '') });
  const terminals = createTerminalSockets({
    redis,
    prefix,
    store,
    access,
    activity: createLabActivity({ redis, prefix: prefix.replace(/:$/, '') }),
    subscriber: connect(),
    tokens: config.tokens,
    ...config.terminals,
    ...(config.publicUrl === undefined ? {} : { publicOrigin: config.publicUrl }),
    ...(config.log === undefined ? {} : { log: config.log }),
  });
  const app = createApp({
    metrics,
    store,
    access,
    runner,
    catalog: config.catalog,
    pools: config.pools,
    redis,
    prefix,
    tokens: config.tokens,
    teardown: queues.teardown,
    queues: queues.queues,
    ...(config.publicUrl === undefined ? {} : { publicUrl: config.publicUrl }),
    ...(config.log === undefined ? {} : { log: config.log }),
  });
  return {
    app,
    store,
    /** Browser terminals' WebSockets: attach to the HTTP server (`terminals.attach(server)`). */
    terminals,
    /** The operator connections kept open to ready labs (`settled()` waits for them). */
    warm,
    async close(): Promise<void> {
      await warm.stop();
      await terminals.close();
      await queues.close();
      ssh.close();
      for (const connection of connections) connection.disconnect();
    },
  };
}
