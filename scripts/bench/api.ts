import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createClient } from '@breakfix/client';
import type { KubeObject } from '@breakfix/kube';
import { parsePlatformConfig, parsePoolsConfig } from '@breakfix/manifests';
import { createProvisioner, EnvironmentStore, listLabVmis, runningNode } from '@breakfix/pool';
import { emulatedBootstrap, startSandbox } from '@breakfix/sandbox';
import { loadCatalog } from '@breakfix/scenarios';
import { createOperatorKey, generateEd25519 } from '@breakfix/secrets';
import { createSshRunner } from '@breakfix/ssh';
import { serve } from '@hono/node-server';
import { Redis } from 'ioredis';
import { wireOrchestrator } from '../../apps/orchestrator/src/wire.js';
import type { BenchSettings } from '../bench.js';
import { claimRounds, warmPool } from './claim-rounds.js';
import { createTraceCollector, type TraceCollector, untilQuiet } from './claim-trace.js';
import { type Learners, startLearners } from './learners.js';
import { type Figure, latency, value } from './stats.js';

const POOL = 'bench';
const SCENARIO = 'sim-kubeconfig-drift';
/** What the scenario's break.sh writes, and a line of it only the break puts there. */
const BROKEN_FILE = '/tmp/breakfix-sim/kubeconfig';
const BROKEN_LINE = 'server: https://cp-api:6444';

/**
 * HTTP claims one at a time, then with `learners` learners claiming at once, from a warm pool:
 * the production claim path as the orchestrator wires it: the learner's public key in the request, the atomic claim,
 * a NodePort and the lab's `ssh` Service, keys over SSH, the scenario's real break.sh, the
 * answer. `claims` claims in rounds after a warm-up, the per-step trace, and afterwards (not
 * timed) a check of every claim: the learner logs in with their key and finds the break, and the
 * Service holds the port the answer names.
 *
 * The learner's way in is the one KubeVirt gives: the control plane's node at the lab's NodePort,
 * which the sandbox's kube-proxy forwards to the guest (docs/adr/0031); the check logs in there.
 */
export async function* benchApi(settings: BenchSettings): AsyncGenerator<Figure> {
  const sandbox = await startSandbox();
  const redis = new Redis(sandbox.redisUrl, { maxRetriesPerRequest: null });
  const token = randomBytes(24).toString('hex');
  const operatorKey = createOperatorKey();
  const platform = parsePlatformConfig({ operator: { publicKey: operatorKey.publicKey } });
  const pools = parsePoolsConfig({
    pools: [{ name: POOL, kubernetesVersion: '1.36', workers: 0, size: 'small', min: 0, max: settings.learners }],
  });
  let collector: TraceCollector | undefined;
  const orchestrator = wireOrchestrator({
    redisUrl: sandbox.redisUrl,
    kube: sandbox.kube,
    pools,
    platform,
    operatorKey,
    catalog: new Map([...loadCatalog()].filter(([, scenario]) => scenario.simulator)),
    tokens: [{ name: 'bench', role: 'bot', token }],
    scenarioStateDir: '/tmp/breakfix-scenario-state',
    ssh: { onConnect: (event) => collector?.handshake(event) },
    trace: (event) => collector?.step(event),
  });
  const server = serve({ fetch: orchestrator.app.fetch, port: 0, hostname: '127.0.0.1' });
  // The pool worker's runner: the orchestrator's own (wired above) never shares its connections.
  const provisionerSsh = createSshRunner();
  const checkSsh = createSshRunner({ reuseConnectionsMs: 0 });
  let learners: Learners | undefined;
  try {
    const store = new EnvironmentStore({ redis });
    const provisioner = createProvisioner({
      kube: sandbox.kube,
      store,
      ssh: provisionerSsh,
      platform,
      operatorKey,
      vmsRunningTimeoutMs: 120_000,
      readyTimeoutMs: 120_000,
      probeIntervalMs: 500,
      decorate: emulatedBootstrap,
    });
    await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    learners = startLearners({ baseUrl, token });
    const learnerThread = learners;
    const client = createClient({ baseUrl, token });
    const learnerKey = generateEd25519('learner@bench');

    /** Undefined when the claim holds: the learner's key logs in, the break is there, the port is the Service's. */
    async function checkClaim(labId: string): Promise<string | undefined> {
      const env = await store.get(labId);
      const cp = runningNode((await listLabVmis(sandbox.kube, env.namespace)).get('cp'));
      if (cp === undefined) return 'no running control plane';
      if (env.access === undefined) return 'no access recorded';
      const result = await checkSsh.exec(
        {
          host: env.access.host,
          port: env.access.port,
          username: platform.learner.user,
          privateKey: learnerKey.privateKey,
          hostKey: env.hostKeys?.cp ?? '',
        },
        `cat ${BROKEN_FILE}`,
        { timeoutMs: 15_000 },
      );
      if (!result.stdout.includes(BROKEN_LINE)) return `the break is not there (exit ${result.code})`;
      const service = await sandbox.kube.get<KubeObject & { spec?: { ports?: { nodePort?: number }[] } }>({
        apiVersion: 'v1',
        kind: 'Service',
        namespace: env.namespace,
        name: 'ssh',
      });
      const nodePort = service?.spec?.ports?.[0]?.nodePort;
      if (nodePort === undefined || nodePort !== ports.get(labId))
        return `the ssh Service holds port ${nodePort}, the answer said ${ports.get(labId)}`;
      return undefined;
    }

    const ports = new Map<string, number>();
    let next = 0;
    const warmSeconds: number[] = [];
    let warmFailures = 0;
    for (const mode of ['one_at_a_time', 'concurrent'] as const) {
      const series = createTraceCollector({ operator: platform.operator.user, learner: platform.learner.user });
      collector = series;
      const httpMs = new Map<string, { sentAt: number; ms: number }>();
      let checked = 0;
      let checkFailures = 0;
      const samples = await claimRounds({
        sandbox,
        label: mode,
        claims: settings.claims,
        atOnce: settings.learners,
        mode,
        warmup: settings.warmup,
        warm: (count) => warmPool(provisioner, POOL, count, () => `b${next++}`),
        settle: async () => {
          await orchestrator.warm.settled();
          if (!(await untilQuiet()))
            console.error('api: the sandbox was still busy 60 s after warming; measuring anyway');
        },
        claim: async (learner) => {
          const answer = await learnerThread.claim({ learner, scenario: SCENARIO, publicKey: learnerKey.publicKey });
          const ms = answer.doneAt - answer.sentAt;
          if (answer.error !== undefined || answer.labId === undefined || answer.port === undefined)
            throw Object.assign(new Error(answer.error ?? 'no lab in the answer'), { ms });
          // On this thread's clock, as the trace is.
          httpMs.set(learner, { sentAt: answer.sentAt - performance.timeOrigin, ms });
          ports.set(answer.labId, answer.port);
          return { labId: answer.labId, ms };
        },
        clear: async () => {
          for (const env of await store.list()) {
            if (env.pool !== POOL || env.state === 'deleted') continue;
            if (env.state === 'claimed') await client.labs.release(env.id);
            await provisioner.teardown(env.id);
          }
        },
        measuring: (on) => series.record(on),
        afterRound: async (claimed) => {
          const queue = [...claimed];
          const checkOne = async ({ labId }: { labId: string }) => {
            checked++;
            const problem = await checkClaim(labId).catch((error: Error) => error.message);
            if (problem !== undefined) {
              checkFailures++;
              console.error(`api: lab ${labId}: ${problem}`);
            }
          };
          // A few at a time: the check is not what is measured.
          await Promise.all(
            Array.from({ length: 5 }, async () => {
              for (let item = queue.shift(); item !== undefined; item = queue.shift()) await checkOne(item);
            }),
          );
        },
      });

      warmSeconds.push(...samples.warmSeconds);
      warmFailures += samples.warmFailures;
      const name = `api.claim.http.${mode === 'concurrent' ? `${settings.learners}_concurrent` : mode}`;
      yield latency(`${name} (learner key, NodePort Service, ${SCENARIO} break.sh; over HTTP)`, samples.ms, {
        failures: samples.failures,
      });
      yield value(`${name}.failures`, samples.failures, 'claims', { n: samples.ms.length });
      yield value(
        `${name}.checked (afterwards: learner key logs in, break in place, Service holds the port)`,
        checked - checkFailures,
        'claims',
        { n: checked, failures: checkFailures },
      );
      yield* series.figures(name);
      const totals = series.totals();
      // The orchestrator runs in this process, so its trace and the client share one clock.
      const before: number[] = [];
      const after: number[] = [];
      for (const [learner, http] of httpMs) {
        const total = totals.get(learner);
        if (total === undefined) continue;
        before.push(total.startedAt - http.sentAt);
        after.push(http.sentAt + http.ms - (total.startedAt + total.ms));
      }
      if (before.length > 0) {
        yield latency(
          `${name}.http_overhead (HTTP latency minus the claim path's total)`,
          before.map((ms, i) => ms + (after[i] ?? 0)),
          { digits: 2 },
        );
        yield latency(`${name}.http_before (request sent → claim path starts)`, before, { digits: 2 });
        yield latency(`${name}.http_after (claim path done → answer received)`, after, { digits: 2 });
      }
    }
    yield latency(`api.pool_warm (${settings.learners} labs provisioned at once, zero boot delay)`, warmSeconds, {
      unit: 's',
      failures: warmFailures,
    });
  } finally {
    provisionerSsh.close();
    checkSsh.close();
    await learners?.close();
    server.close();
    await orchestrator.close();
    redis.disconnect();
    await sandbox.stop();
  }
}
