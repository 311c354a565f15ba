import { performance } from 'node:perf_hooks';
import { parsePlatformConfig, parsePoolsConfig } from '@breakfix/manifests';
import { createLabAccess, createProvisioner, EnvironmentStore, NodePortAllocator } from '@breakfix/pool';
import { emulatedBootstrap, startSandbox } from '@breakfix/sandbox';
import { createOperatorKey } from '@breakfix/secrets';
import { createSshRunner } from '@breakfix/ssh';
import { Redis } from 'ioredis';
import { createPoolWorker } from '../../apps/pool-worker/src/create-pool-worker.js';
import type { Figure } from '../bench.js';
import { percentile, round } from './stats.js';

const LABS = 50;
const SEQUENTIAL = 10;

/**
 * The warm pool end to end on the simulator: how long 50 single-VM labs take to fill with zero
 * boot delay, then the full claim (atomic claim, NodePort Service, learner key over SSH, a
 * trivial break over SSH, access recorded), one at a time and 40 at once.
 */
export async function* benchClaim(): AsyncGenerator<Figure> {
  const sandbox = await startSandbox({});
  const connections: Redis[] = [];
  const connect = () => {
    const redis = new Redis(sandbox.redisUrl, { maxRetriesPerRequest: null });
    connections.push(redis);
    return redis;
  };
  try {
    const operatorKey = createOperatorKey();
    const platform = parsePlatformConfig({ operator: { publicKey: operatorKey.publicKey } });
    const ssh = createSshRunner();
    const store = new EnvironmentStore({ redis: connect(), prefix: 'bench:' });
    const provisioner = createProvisioner({
      kube: sandbox.kube,
      store,
      ssh,
      platform,
      operatorKey,
      probeIntervalMs: 250,
      decorate: emulatedBootstrap,
    });
    const pools = parsePoolsConfig({
      pools: [
        {
          name: 'warm',
          kubernetesVersion: '1.36',
          workers: 0,
          size: 'small',
          min: LABS,
          max: LABS,
          maxConcurrentProvisions: LABS,
        },
      ],
    });
    const worker = createPoolWorker({
      connection: connect,
      redis: connect(),
      store,
      provisioner,
      pools,
      prefix: 'bench',
      kube: sandbox.kube,
    });
    const fillStarted = performance.now();
    await worker.tick();
    while ((await store.readyCount('warm')) < LABS) await new Promise((resolve) => setTimeout(resolve, 200));
    yield {
      name: `pool.fill.${LABS}_labs_zero_boot_delay`,
      value: round((performance.now() - fillStarted) / 1000, 1),
      unit: 's',
    };
    await worker.close();

    const access = createLabAccess({
      kube: sandbox.kube,
      store,
      allocator: new NodePortAllocator({ redis: connect(), prefix: 'bench:', range: platform.nodePorts }),
      ssh,
      platform,
      operatorKey,
      publicHost: '127.0.0.1',
    });
    const claim = async (i: number) => {
      const started = performance.now();
      await access.claim({
        pool: 'warm',
        learner: `learner-${i}`,
        scenario: 'trivial',
        ttlMs: 3_600_000,
        prepare: async (lab) => {
          if (lab.nodes.cp !== undefined) await ssh.exec(lab.nodes.cp, 'true', { sudo: true });
        },
      });
      return performance.now() - started;
    };
    const sequential: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) sequential.push(await claim(i));
    const burst = await Promise.all(Array.from({ length: LABS - SEQUENTIAL }, (_, i) => claim(SEQUENTIAL + i)));
    for (const [label, samples] of [
      ['one_at_a_time', sequential],
      [`${LABS - SEQUENTIAL}_concurrent`, burst],
    ] as const) {
      yield {
        name: `pool.claim.full.${label}.p50 (NodePort + key + trivial break)`,
        value: round(percentile(samples, 50)),
        unit: 'ms',
      };
      yield {
        name: `pool.claim.full.${label}.p99 (NodePort + key + trivial break)`,
        value: round(percentile(samples, 99)),
        unit: 'ms',
      };
    }
  } finally {
    for (const connection of connections) connection.disconnect();
    await sandbox.stop();
  }
}
