import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor } from '@breakfix/core';
import { sendToBot, slashCommand, startSlackApi } from '../../apps/slack-bot/test/slack-api.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

test('npm run sandbox: a newcomer runs the printed labctl command and logs in with the ssh command it prints', async () => {
  const home = mkdtempSync(join(tmpdir(), 'newcomer-'));
  const infoFile = join(home, '.breakfix', 'sandbox.json');
  const slack = await startSlackApi();
  const secret = randomBytes(16).toString('hex');
  try {
    // Given the platform as `npm run sandbox` starts it (the same script), with a Slack signing secret
    const platform = spawn(
      process.execPath,
      ['--import', 'tsx', 'scripts/sandbox-platform.ts', '--info-file', infoFile, '--dir', join(home, 'substrate')],
      {
        cwd: root,
        env: { ...process.env, SLACK_SIGNING_SECRET: secret, SLACK_API_URL: slack.apiUrl },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(platform);
    let output = '';
    for (const stream of [platform.stdout, platform.stderr]) stream?.on('data', (chunk) => (output += chunk));
    await waitFor(
      async () => (existsSync(infoFile) ? true : platform.exitCode === null ? undefined : assert.fail(output)),
      {
        what: 'the sandbox info file',
        timeoutMs: 180_000,
        intervalMs: 250,
      },
    );
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as Record<string, string>;
    for (const field of ['kubeconfig', 'redisUrl', 'kubectl', 'apiUrl', 'apiToken', 'slackUrl'])
      assert.ok(info[field], `sandbox.json has ${field}`);
    const printed =
      /npm run labctl -- (claim \S+)/.exec(output)?.[1] ?? assert.fail(`no labctl command in:\n${output}`);

    // When the newcomer runs that command from their folder, with no flags and no environment
    const {
      BREAKFIX_API_URL: _u,
      BREAKFIX_TOKEN: _t,
      BREAKFIX_SANDBOX_FILE: _s,
      NODE_OPTIONS: _n,
      ...env
    } = process.env;
    const claim = await run(
      process.execPath,
      [
        // labctl's bin, as `npx labctl` runs it: tsx resolves from the package, not from cwd
        join(root, 'apps/labctl/bin/labctl.mjs'),
        ...printed.split(' '),
        '--json',
        '--learner',
        'newcomer',
      ],
      { cwd: home, env, timeout: 180_000 },
    );
    const connection = JSON.parse(claim.stdout) as { command: string; connection?: { command: string } };
    const command = connection.connection?.command ?? connection.command;
    assert.match(command, /^ssh .*StrictHostKeyChecking=yes/);

    // Then the ssh command it printed logs in as it stands (key and known_hosts files beside it)
    const session = await run(
      'sh',
      ['-c', `${command} -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=5 id -un`],
      {
        cwd: home,
        timeout: 30_000,
      },
    );
    assert.equal(session.stdout.trim(), 'learner');

    // And the Slack bot it started answers a signed slash command
    const responseUrl = slack.responseUrl();
    const ack = await sendToBot(info.slackUrl ?? '', secret, slashCommand({ text: 'help', user: 'UNEW', responseUrl }));
    assert.equal(ack.status, 200);
    await slack.waitForCall('the help answer', (c) => c.method === 'response_url');

    // When the newcomer presses Ctrl-C, everything stops and the info file goes away
    platform.kill('SIGINT');
    const [code] = (await once(platform, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.equal(existsSync(infoFile), false);
  } finally {
    await slack.close();
  }
});
