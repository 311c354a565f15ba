import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createClient } from '@breakfix/client';
import { parseLabSpec, parsePlatformConfig, parsePoolsConfig } from '@breakfix/manifests';
import { createProvisioner, EnvironmentStore } from '@breakfix/pool';
import { emulatedBootstrap, startSandbox } from '@breakfix/sandbox';
import { loadCatalog } from '@breakfix/scenarios';
import { createOperatorKey } from '@breakfix/secrets';
import { createSshRunner } from '@breakfix/ssh';
import { serve } from '@hono/node-server';
import { Redis } from 'ioredis';
import { wireOrchestrator } from '../../apps/orchestrator/src/wire.js';
import type { Figure } from '../bench.js';
import { percentile, round } from './stats.js';

const LEARNERS = 50;

/**
 * HTTP claim latency with 50 learners claiming at once from a warm pool of 50 simulated labs:
 * the whole claim (atomic claim, learner key over SSH, the scenario's break over SSH, answer).
 */
export async function* benchApi(): AsyncGenerator<Figure> {
  const sandbox = await startSandbox();
  const redis = new Redis(sandbox.redisUrl, { maxRetriesPerRequest: null });
  const token = randomBytes(24).toString('hex');
  const operatorKey = createOperatorKey();
  const platform = parsePlatformConfig({ operator: { publicKey: operatorKey.publicKey } });
  const pools = parsePoolsConfig({
    pools: [{ name: 'bench', kubernetesVersion: '1.36', workers: 0, size: 'small', min: 0, max: LEARNERS }],
  });
  const orchestrator = wireOrchestrator({
    redisUrl: sandbox.redisUrl,
    kube: sandbox.kube,
    pools,
    platform,
    operatorKey,
    catalog: new Map([...loadCatalog()].filter(([, scenario]) => scenario.simulator)),
    tokens: [{ name: 'bench', role: 'bot', token }],
    reach: 'vmAddress',
    scenarioStateDir: '/tmp/breakfix-scenario-state',
  });
  const server = serve({ fetch: orchestrator.app.fetch, port: 0, hostname: '127.0.0.1' });
  try {
    const provisioner = createProvisioner({
      kube: sandbox.kube,
      store: new EnvironmentStore({ redis }),
      ssh: createSshRunner(),
      platform,
      operatorKey,
      vmsRunningTimeoutMs: 120_000,
      readyTimeoutMs: 120_000,
      probeIntervalMs: 500,
      decorate: emulatedBootstrap,
    });
    const booted = Date.now();
    await Promise.all(
      Array.from({ length: LEARNERS }, (_, i) =>
        provisioner.provision({
          id: `b${i}`,
          pool: 'bench',
          spec: parseLabSpec({ labId: `b${i}`, kubernetesVersion: '1.36' }),
        }),
      ),
    );
    yield {
      name: `api.pool_warmup.${LEARNERS}_simulated_labs`,
      value: round((Date.now() - booted) / 1000, 1),
      unit: 's',
    };

    await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
    const client = createClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token });
    const scenario = 'sim-kubeconfig-drift';
    const latencies: number[] = [];
    let failures = 0;
    await Promise.all(
      Array.from({ length: LEARNERS }, async (_, i) => {
        const started = performance.now();
        try {
          await client.labs.claim(
            { learner: `learner${i}`, scenario },
            { idempotencyKey: randomBytes(16).toString('hex') },
          );
          latencies.push(performance.now() - started);
        } catch {
          failures++;
        }
      }),
    );
    yield {
      name: `api.claim.http.p50 (${LEARNERS} concurrent learners, key + break over SSH)`,
      value: round(percentile(latencies, 50)),
      unit: 'ms',
    };
    yield {
      name: `api.claim.http.p99 (${LEARNERS} concurrent learners, key + break over SSH)`,
      value: round(percentile(latencies, 99)),
      unit: 'ms',
    };
    yield { name: 'api.claim.http.failed', value: failures, unit: 'claims' };
  } finally {
    server.close();
    await orchestrator.close();
    redis.disconnect();
    await sandbox.stop();
  }
}
