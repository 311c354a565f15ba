/**
 * `npm run sandbox`: the whole platform on the local substrate, until Ctrl-C. Starts the sandbox
 * (apiserver, Redis, virt simulator), a pool worker keeping a small demo pool warm, and the
 * orchestrator; publishes `.breakfix/sandbox.json` (the substrate's fields plus `apiUrl` and
 * `apiToken`, an admin token of the orchestrator) and prints the one labctl command to try.
 *
 *   node --import tsx scripts/sandbox-platform.ts [--info-file F] [--dir DIR] [--port N]
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from '@breakfix/client';
import { BreakfixError } from '@breakfix/core';
import { parsePlatformConfig, parsePoolsConfig } from '@breakfix/manifests';
import {
  createIdleReaper,
  createLabAccess,
  createLabActivity,
  createProvisioner,
  EnvironmentStore,
  NodePortAllocator,
} from '@breakfix/pool';
import { emulatedBootstrap, freePort, resolveBinaries, startSandbox } from '@breakfix/sandbox';
import { loadCatalog } from '@breakfix/scenarios';
import { createOperatorKey } from '@breakfix/secrets';
import { createSshRunner } from '@breakfix/ssh';
import { serve } from '@hono/node-server';
import { Redis } from 'ioredis';
import { wireOrchestrator } from '../apps/orchestrator/src/wire.js';
import { createPoolWorker } from '../apps/pool-worker/src/create-pool-worker.js';
import { createSlackBot } from '../apps/slack-bot/src/create-bot.js';
import { createRedisWaitQueue } from '../apps/slack-bot/src/wait-queue.js';
import { DEMO_POOL, SANDBOX_POOLS } from './sandbox-pools.js';

const { values } = parseArgs({
  options: {
    'info-file': { type: 'string', default: '.breakfix/sandbox.json' },
    dir: { type: 'string' },
    port: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const infoFile = resolve(values['info-file'] ?? '.breakfix/sandbox.json');
const say = (line: string) => {
  if (!values.quiet) console.log(line);
};
const TICK_MS = 2_000;

async function main(): Promise<void> {
  const started = Date.now();
  const binaries = await resolveBinaries({ onProgress: say });
  const dir = values.dir === undefined ? undefined : resolve(values.dir);
  if (dir !== undefined) mkdirSync(dir, { recursive: true });
  const sandbox = await startSandbox({ binaries, ...(dir === undefined ? {} : { dir }), onProgress: say });
  const log = (line: string) => say(`  ${new Date().toISOString().slice(11, 19)} ${line}`);

  // The platform: one operator key, the demo pool, the simulator's scenarios.
  const operatorKey = createOperatorKey();
  const platform = parsePlatformConfig({ operator: { publicKey: operatorKey.publicKey } });
  const pools = parsePoolsConfig(SANDBOX_POOLS);
  const catalog = new Map([...loadCatalog()].filter(([, scenario]) => scenario.simulator));
  const connections: Redis[] = [];
  const connect = () => {
    const redis = new Redis(sandbox.redisUrl, { maxRetriesPerRequest: null });
    connections.push(redis);
    return redis;
  };
  const store = new EnvironmentStore({ redis: connect() });
  const ssh = createSshRunner();
  const provisioner = createProvisioner({
    kube: sandbox.kube,
    store,
    ssh,
    platform,
    operatorKey,
    vmsRunningTimeoutMs: 60_000,
    readyTimeoutMs: 60_000,
    probeIntervalMs: 500,
    // Simulated guests run no kubeadm: they play the bootstrap's outcome.
    decorate: emulatedBootstrap,
    log,
  });
  // The worker's own view of lab access: the idle reaper asks the nodes through it.
  const access = createLabAccess({
    kube: sandbox.kube,
    store,
    allocator: new NodePortAllocator({ redis: connect(), range: platform.nodePorts }),
    ssh,
    platform,
    operatorKey,
  });
  const worker = createPoolWorker({
    connection: connect,
    redis: connect(),
    store,
    provisioner,
    pools,
    kube: sandbox.kube,
    subscriber: connect(),
    // Labs of the demo pool nobody uses go after DEMO_POOL.idleMinutes (docs/adr/0016).
    idle: createIdleReaper({
      store,
      activity: createLabActivity({ redis: connect() }),
      targets: (env) => access.targets(env),
      ssh,
      learnerUser: platform.learner.user,
      pools,
      redis: connect(),
      log,
    }),
    log,
  });
  let ticking = false;
  const tick = async () => {
    if (ticking) return; // never overlapping
    ticking = true;
    await worker.tick().catch((error: unknown) => log(`tick failed: ${(error as Error).message}`));
    ticking = false;
  };
  await tick();
  const ticker = setInterval(() => void tick(), TICK_MS);

  const apiToken = randomBytes(24).toString('hex');
  const botToken = randomBytes(24).toString('hex');
  const orchestrator = wireOrchestrator({
    redisUrl: sandbox.redisUrl,
    kube: sandbox.kube,
    pools,
    platform,
    operatorKey,
    catalog,
    tokens: [
      { name: 'admin', role: 'admin', token: apiToken },
      { name: 'slack-bot', role: 'bot', token: botToken },
    ],
    // Learners get the control plane's node and the lab's NodePort, as on KubeVirt: the sandbox's
    // kube-proxy forwards it to the guest (docs/adr/0031).
    // Simulated guests have no root: break markers go where their user may write.
    scenarioStateDir: '/tmp/breakfix-scenario-state',
    log,
  });
  const port = values.port === undefined ? await freePort() : Number(values.port);
  const server = serve({ fetch: orchestrator.app.fetch, port, hostname: '127.0.0.1' });
  orchestrator.terminals.attach(server); // browser terminals: `labctl open`
  const apiUrl = `http://127.0.0.1:${port}`;

  // The Slack bot joins when a signing secret is configured (SLACK_API_URL points its Web API
  // calls somewhere else than slack.com, e.g. a local stand-in).
  const signingSecret = process.env.SLACK_SIGNING_SECRET;
  let slackUrl: string | undefined;
  let slackBot: ReturnType<typeof createSlackBot> | undefined;
  if (signingSecret !== undefined && signingSecret !== '') {
    slackBot = createSlackBot({
      api: createClient({ baseUrl: apiUrl, token: botToken }),
      adminApi: createClient({ baseUrl: apiUrl, token: apiToken }),
      queue: createRedisWaitQueue({ redis: connect() }),
      signingSecret,
      botToken: process.env.SLACK_BOT_TOKEN ?? 'xoxb-sandbox',
      ...(process.env.SLACK_API_URL === undefined ? {} : { slackApiUrl: process.env.SLACK_API_URL }),
      log,
    });
    const slackPort = await freePort();
    await slackBot.start(slackPort);
    slackUrl = `http://127.0.0.1:${slackPort}/slack/events`;
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`\n${signal}: stopping the platform and the sandbox`);
    rmSync(infoFile, { force: true });
    clearInterval(ticker);
    server.close();
    await slackBot?.stop();
    await orchestrator.close();
    await worker.close();
    for (const connection of connections) connection.disconnect();
    await sandbox.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  mkdirSync(dirname(infoFile), { recursive: true });
  const info = {
    ...sandbox.info(),
    kubectl: binaries.kubectl,
    apiUrl,
    apiToken,
    ...(slackUrl === undefined ? {} : { slackUrl }),
  };
  writeFileSync(`${infoFile}.tmp`, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${infoFile}.tmp`, infoFile);

  const scenario = [...catalog.keys()][0] ?? '<scenario>';
  say(`platform ready in ${((Date.now() - started) / 1000).toFixed(1)} s (logs: ${sandbox.dir}/logs)`);
  say('');
  say(`  info:        ${infoFile}`);
  say(`  API:         ${apiUrl}   (docs ${apiUrl}/docs, OpenAPI ${apiUrl}/openapi.json)`);
  say(`  dashboard:   ${apiUrl}/admin/login   (token: apiToken in the info file)`);
  say(`  kubeconfig:  ${sandbox.kubeconfig}`);
  say(
    slackUrl === undefined ? '  slack bot:   off (set SLACK_SIGNING_SECRET to start it)' : `  slack bot:   ${slackUrl}`,
  );
  say(`  demo pool:   ${DEMO_POOL.min} simulated labs kept ready; scenarios: ${[...catalog.keys()].join(', ')}`);
  say('');
  say('get an SSH command into a simulated control plane (waits while the pool boots):');
  say('');
  say(`  npm run labctl -- claim ${scenario}`);
  say('');
  say('Ctrl-C stops everything.');
}

main().catch((error: unknown) => {
  rmSync(infoFile, { force: true });
  if (error instanceof BreakfixError) {
    console.error(`sandbox: ${error.message}${error.hint === undefined ? '' : `\n  -> ${error.hint}`}`);
  } else {
    console.error('sandbox failed:', error);
  }
  process.exit(1);
});
