import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { createKube, type KubeObject } from '@breakfix/kube';
import { useSandbox } from '@breakfix/testkit';
import { kubectlPath, PLATFORM_NAMESPACE, repoRoot } from './deploy-kit.js';

// The guides' promise: every command in them either runs here, top to bottom, against the
// sandbox's apiserver, or says in its first line that it needs a real cluster.
const MARK = /^# needs a real cluster\b/;
const NOT_COMMANDS = new Set(['yaml', 'json', 'text']);
const SHELL = new Set(['sh', 'bash']);

interface Block {
  lang: string;
  body: string;
  line: number;
}

function blocks(doc: string): Block[] {
  const found: Block[] = [];
  const lines = readFileSync(join(repoRoot, doc), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] ?? '');
    if (open === null) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i] ?? '');
    found.push({ lang: open[1] ?? '', body: body.join('\n'), line: start + 1 });
  }
  return found;
}

const runnable = (doc: string) =>
  blocks(doc).filter((b) => !NOT_COMMANDS.has(b.lang) && !MARK.test(b.body.split('\n')[0] ?? ''));

/** Runs a guide's runnable blocks in one bash, in order, as an operator would at the clone root. */
async function runGuide(doc: string, env: Record<string, string>): Promise<string> {
  const script = [
    'set -euo pipefail',
    ...runnable(doc).map((b) => `echo "::block at ${doc}:${b.line}::" >&2\n${b.body}`),
  ].join('\n');
  const result = spawnSync('bash', ['-c', script], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 180_000,
  });
  const failedAt = [...result.stderr.matchAll(/::block at (\S+)::/g)].at(-1)?.[1];
  assert.equal(result.status, 0, `${doc}: the block at ${failedAt} failed:\n${result.stderr.slice(-3000)}`);
  return result.stdout;
}

test('every command block in the guides is run by this test or marked as needing a real cluster', () => {
  for (const doc of ['docs/operator-guide.md', 'docs/learner-guide.md']) {
    for (const block of blocks(doc)) {
      if (NOT_COMMANDS.has(block.lang) || MARK.test(block.body.split('\n')[0] ?? '')) continue;
      assert.ok(SHELL.has(block.lang), `${doc}:${block.line}: a \`${block.lang}\` block is neither run nor marked`);
    }
  }
  // The operator guide is mostly runnable: marking everything would make this test meaningless.
  assert.ok(runnable('docs/operator-guide.md').length >= 8, 'most of the install is run here');
});

test('the operator guide, run from top to bottom, installs the platform into the sandbox', async () => {
  const { info } = await useSandbox();
  const kubectl = await kubectlPath(info);
  const home = mkdtempSync(join(tmpdir(), 'breakfix-operator-'));
  // Given an operator's shell: kubectl on the PATH pointed at the cluster, a fresh home, and the
  // Slack values the guide asks them to export (the one step that needs their Slack app)
  const stdout = await runGuide('docs/operator-guide.md', {
    HOME: home,
    PATH: `${dirname(kubectl)}:${process.env.PATH ?? ''}`,
    KUBECONFIG: info.kubeconfig,
    SLACK_BOT_TOKEN: 'xoxb-test',
    SLACK_SIGNING_SECRET: 'test-signing-secret',
    SLACK_APP_TOKEN: 'xapp-test',
  });
  // Then the capacity table was printed and the platform's objects exist as the guide promised
  assert.match(stdout, /LABS\/HOST/);
  const kube = createKube({ kubeconfig: info.kubeconfig });
  for (const name of ['breakfix-redis', 'breakfix-operator-key', 'breakfix-api-tokens', 'breakfix-slack']) {
    const secret = await kube.get<KubeObject & { data?: Record<string, string> }>({
      apiVersion: 'v1',
      kind: 'Secret',
      namespace: PLATFORM_NAMESPACE,
      name,
    });
    assert.ok(secret?.data && Object.keys(secret.data).length > 0, `Secret ${name} has data`);
  }
  const key = await kube.get<KubeObject & { data: Record<string, string> }>({
    apiVersion: 'v1',
    kind: 'Secret',
    namespace: PLATFORM_NAMESPACE,
    name: 'breakfix-operator-key',
  });
  assert.match(Buffer.from(key?.data['id_ed25519.pub'] ?? '', 'base64').toString(), /^ssh-ed25519 /);
  const tokens = Buffer.from(
    (
      await kube.get<KubeObject & { data: Record<string, string> }>({
        apiVersion: 'v1',
        kind: 'Secret',
        namespace: PLATFORM_NAMESPACE,
        name: 'breakfix-api-tokens',
      })
    )?.data['tokens.yaml'] ?? '',
    'base64',
  ).toString();
  assert.match(tokens, /role: bot\n {2}token: [0-9a-f]{64}\n/);
  for (const name of ['pool-worker', 'orchestrator', 'slack-bot']) {
    const deployment = await kube.get<
      KubeObject & { spec: { template: { spec: { containers: { image: string }[] } } } }
    >({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: PLATFORM_NAMESPACE, name });
    assert.equal(deployment?.spec.template.spec.containers[0]?.image, `registry.example.com/breakfix/${name}:0.1.0`);
  }
});

test('the learner guide has nothing to run without a real installation, and says so', () => {
  assert.equal(runnable('docs/learner-guide.md').length, 0);
  assert.ok(blocks('docs/learner-guide.md').length >= 3);
});
