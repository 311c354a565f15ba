// A pool worker in its own process, for fault tests: `node --import tsx worker-process.ts <json>`.
// It ticks once (or every second with "loop": true) and prints "ticked <ids>" lines; it stops only
// when killed.
import { createKube } from '@breakfix/kube';
import { parsePlatformConfig, parsePoolsConfig } from '@breakfix/manifests';
import { createProvisioner, EnvironmentStore } from '@breakfix/pool';
import { emulatedBootstrap } from '@breakfix/sandbox';
import { createSshRunner } from '@breakfix/ssh';
import { Redis } from 'ioredis';
import { bootDelay } from '../../../packages/pool/test/simulated-labs.js';
import { createPoolWorker } from '../src/create-pool-worker.js';

const config = JSON.parse(process.argv[2] ?? '{}') as {
  redisUrl: string;
  kubeconfig: string;
  prefix: string;
  pools: unknown;
  operatorKey: { privateKey: string; publicKey: string };
  bootDelayMs: number;
  lockDurationMs: number;
  loop?: boolean;
};
const connect = () => new Redis(config.redisUrl, { maxRetriesPerRequest: null });
const kube = createKube({ kubeconfig: config.kubeconfig });
const store = new EnvironmentStore({ redis: connect(), prefix: `${config.prefix}:` });
const provisioner = createProvisioner({
  kube,
  store,
  ssh: createSshRunner(),
  // Its own instance (the prefix), shared with any worker the test starts for the same labs.
  platform: parsePlatformConfig({ instance: config.prefix, operator: { publicKey: config.operatorKey.publicKey } }),
  operatorKey: config.operatorKey,
  vmsRunningTimeoutMs: 60_000,
  readyTimeoutMs: 60_000,
  probeIntervalMs: 200,
  decorate: (objects) => emulatedBootstrap(bootDelay(config.bootDelayMs)(objects)),
});
const worker = createPoolWorker({
  connection: connect,
  redis: connect(),
  store,
  provisioner,
  pools: parsePoolsConfig(config.pools),
  prefix: config.prefix,
  kube,
  lockDurationMs: config.lockDurationMs,
});
do {
  const result = await worker.tick().catch((error: unknown) => ({ enqueued: [], error: (error as Error).message }));
  process.stdout.write(`ticked ${result.enqueued.map((e) => e.id).join(' ')}\n`);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
} while (config.loop === true);
await new Promise(() => {}); // until killed
