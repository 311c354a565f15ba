import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@breakfix/core';
import { freePort, type Sandbox, startSandbox } from '@breakfix/sandbox';
import { createOperatorKey } from '@breakfix/secrets';
import { stringify } from 'yaml';
import { sendToBot, slashCommand, startSlackApi } from '../../apps/slack-bot/test/slack-api.js';

// The entry points read their environment and wire real adapters; nothing else runs them. Each
// gets a substrate of its own: the pool worker's reconciler deletes every lab namespace its
// Redis does not know, which in the shared sandbox would be other tests' labs.
const root = fileURLToPath(new URL('../..', import.meta.url));
const children: ChildProcess[] = [];
let sandbox: Sandbox;
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await sandbox?.stop();
});
before(async () => {
  sandbox = await startSandbox({ simulator: false });
});

function start(app: string, env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', `apps/${app}/src/main.ts`], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk) => (output += chunk));
  return { child, output: () => output };
}

async function answers(
  url: string,
  what: string,
  started: { child: ChildProcess; output: () => string },
  init?: RequestInit,
) {
  return await waitFor(
    async () => {
      if (started.child.exitCode !== null)
        assert.fail(`${what} exited ${started.child.exitCode}:\n${started.output()}`);
      const response = await fetch(url, init).catch(() => undefined);
      return response?.ok ? response : undefined;
    },
    { what, timeoutMs: 60_000, intervalMs: 200 },
  );
}

async function stops(started: { child: ChildProcess }): Promise<void> {
  started.child.kill('SIGTERM');
  const [code] = (await once(started.child, 'exit')) as [number | null];
  assert.equal(code, 0, 'a clean exit on SIGTERM');
}

test('pool worker, orchestrator and Slack bot start from their environment, serve, and stop on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'entrypoints-'));
  const operator = createOperatorKey();
  writeFileSync(join(dir, 'operator'), operator.privateKey, { mode: 0o600 });
  writeFileSync(join(dir, 'operator.pub'), `${operator.publicKey}\n`);
  writeFileSync(join(dir, 'platform.yaml'), stringify({ namespacePrefix: 'lab-' }));
  writeFileSync(
    join(dir, 'pools.yaml'),
    stringify({
      pools: [{ name: 'k8s-1.36-0w', kubernetesVersion: '1.36', workers: 0, size: 'small', min: 0, max: 2 }],
    }),
  );
  const botToken = randomBytes(24).toString('hex');
  writeFileSync(join(dir, 'tokens.yaml'), stringify([{ name: 'slack', role: 'bot', token: botToken }]));
  const common = {
    BREAKFIX_REDIS_URL: sandbox.redisUrl,
    BREAKFIX_POOLS_FILE: join(dir, 'pools.yaml'),
    BREAKFIX_PLATFORM_FILE: join(dir, 'platform.yaml'),
    BREAKFIX_OPERATOR_KEY_FILE: join(dir, 'operator'),
  };

  // The pool worker: metrics served, its first tick recorded per pool
  const metricsPort = await freePort();
  const worker = start('pool-worker', {
    ...common,
    KUBECONFIG: sandbox.kubeconfig,
    BREAKFIX_METRICS_PORT: String(metricsPort),
    BREAKFIX_TICK_CRON: '*/1 * * * * *',
  });
  await answers(`http://127.0.0.1:${metricsPort}/metrics`, 'the worker metrics', worker);
  const metrics = await waitFor(
    async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return text.includes('breakfix_pool_environments{pool="k8s-1.36-0w"') ? text : undefined;
    },
    { what: 'a tick in the metrics', timeoutMs: 30_000, intervalMs: 250 },
  );
  assert.match(metrics, /breakfix_pool_environments\{pool="k8s-1.36-0w",state="ready"\} 0/);

  // The orchestrator: probes, and the pools as the worker planned them
  const apiPort = await freePort();
  const api = start('orchestrator', {
    ...common,
    PORT: String(apiPort),
    BREAKFIX_KUBECONFIG: sandbox.kubeconfig,
    BREAKFIX_SCENARIOS_DIR: join(root, 'scenarios'),
    BREAKFIX_TOKENS_FILE: join(dir, 'tokens.yaml'),
  });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await answers(`${apiUrl}/readyz`, 'the API readiness', api);
  const pools = (await (
    await fetch(`${apiUrl}/v1/pools`, { headers: { Authorization: `Bearer ${botToken}` } })
  ).json()) as { pools: { name: string; target: number | null }[] };
  assert.deepEqual(
    pools.pools.map((p) => [p.name, p.target]),
    [['k8s-1.36-0w', 0]],
  );

  // The Slack bot (HTTP mode), against the API and a stand-in for Slack's Web API
  const slack = await startSlackApi();
  const botPort = await freePort();
  const secret = randomBytes(16).toString('hex');
  const bot = start('slack-bot', {
    PORT: String(botPort),
    BREAKFIX_API_URL: apiUrl,
    BREAKFIX_TOKEN: botToken,
    BREAKFIX_REDIS_URL: sandbox.redisUrl,
    SLACK_SIGNING_SECRET: secret,
    SLACK_BOT_TOKEN: 'xoxb-entrypoint-test',
    SLACK_API_URL: slack.apiUrl,
  });
  try {
    await answers(`http://127.0.0.1:${botPort}/healthz`, 'the bot health', bot);
    const responseUrl = slack.responseUrl();
    const ack = await sendToBot(
      `http://127.0.0.1:${botPort}/slack/events`,
      secret,
      slashCommand({ text: 'list', user: 'U1', responseUrl }),
    );
    assert.equal(ack.status, 200);
    const listed = await slack.waitForCall('the catalog in Slack', (c) => c.path === new URL(responseUrl).pathname);
    assert.match(JSON.stringify(listed.args), /kubelet-crashloop/, 'the real catalog, simulator scenarios left out');
    assert.doesNotMatch(JSON.stringify(listed.args), /sim-kubeconfig-drift/);
  } finally {
    await slack.close();
  }

  // And each stops cleanly on SIGTERM (running jobs finish, connections close)
  await stops(bot);
  await stops(api);
  await stops(worker);
});

test('an entry point with a bad environment says which variable is wrong, and exits non-zero', async () => {
  const bot = start('slack-bot', { BREAKFIX_API_URL: 'not a url', SLACK_BOT_TOKEN: 'xoxp-user-token' });
  const [code] = (await once(bot.child, 'exit')) as [number | null];
  assert.equal(code, 2);
  assert.match(bot.output(), /^slack-bot: invalid configuration$/m);
  assert.match(bot.output(), /^ {2}BREAKFIX_API_URL: Invalid URL$/m);
  assert.match(bot.output(), /^ {2}SLACK_SIGNING_SECRET: missing$/m);
  assert.match(bot.output(), /^ {2}SLACK_BOT_TOKEN: .*xoxb-/m);
  assert.doesNotMatch(bot.output(), /at .+\(.+:\d+:\d+\)/, 'no stack trace');
});
