import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { ApiError, createClient } from '@breakfix/client';
import type { KubeObject } from '@breakfix/kube';
import { serve } from '@hono/node-server';
import { closeFixtures, SCENARIO, startPlatform, TOKENS } from './fixture.js';

const run = promisify(execFile);
const closers: (() => Promise<void>)[] = [];
after(() => closeFixtures(closers));

/** Serves the app on a free loopback port, as main.ts does. */
async function listen(app: { fetch: (request: Request) => Response | Promise<Response> }): Promise<string> {
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** OpenSSH as a learner runs it: only the returned key and known_hosts line, strict host checking. */
async function learnerSsh(
  connection: { host: string; port: number; user: string; knownHosts: string },
  privateKey: string,
  command: string,
) {
  const dir = mkdtempSync(join(tmpdir(), 'learner-'));
  writeFileSync(join(dir, 'key'), privateKey, { mode: 0o600 });
  writeFileSync(join(dir, 'known_hosts'), `${connection.knownHosts}\n`);
  return await run(
    'ssh',
    [
      ...['-i', join(dir, 'key'), '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5'],
      // kube-proxy opens a NodePort a moment after the claim saw its endpoint (docs/adr/0031): as
      // a patient client does, a refused connect is tried again (one attempt a second)
      ...['-o', 'ConnectionAttempts=5'],
      ...['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`],
      ...['-p', String(connection.port), `${connection.user}@${connection.host}`, command],
    ],
    { timeout: 15_000 },
  );
}

test('claim over HTTP, log in with OpenSSH under StrictHostKeyChecking=yes, check, release: the key stops working', async () => {
  const platform = await startPlatform({ ready: 1 });
  closers.push(() => platform.queues.close());
  const breakfix = createClient({ baseUrl: await listen(platform.app), token: TOKENS.bot.token });

  // Given a warm pool, when the bot claims a lab for a learner over HTTP
  const { lab, connection } = await breakfix.labs.claim(
    { learner: 'U0NEWCOMER', scenario: SCENARIO },
    { idempotencyKey: crypto.randomUUID() },
  );
  assert.ok(connection.privateKey !== undefined);

  // Then OpenSSH logs in with exactly what came back, and the break is there
  const session = await learnerSsh(connection, connection.privateKey, 'id -un; cat /tmp/breakfix-sim/kubeconfig');
  assert.match(session.stdout, /^learner\n/);
  assert.match(session.stdout, /server: https:\/\/cp-api:6444/);

  // And the check says what is still wrong
  const check = await breakfix.labs.check(lab.id);
  assert.equal(check.solved, false);

  // When the learner releases, the same key is refused (the NodePort closes first, then the key goes)
  const released = await breakfix.labs.release(lab.id);
  assert.equal(released.state, 'releasing');
  await assert.rejects(
    learnerSsh(connection, connection.privateKey, 'true'),
    /Permission denied|Connection refused|Connection reset/,
  );
  // and the API says so in problem+json, through the client's one error type
  await assert.rejects(breakfix.learners.currentLab('U0NEWCOMER'), (error: unknown) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, 'not_found');
    assert.equal(error.status, 404);
    return true;
  });
});

test('through a NodePort: the Service opens at claim and is gone, its port free, after release', async () => {
  const platform = await startPlatform({ ready: 1, publicHost: 'labs.example.test' });
  closers.push(() => platform.queues.close());
  const breakfix = createClient({ baseUrl: await listen(platform.app), token: TOKENS.admin.token });

  const { lab, connection } = await breakfix.labs.claim({ learner: 'U0PORT', scenario: SCENARIO });
  const env = await platform.store.get(lab.id);
  const service = await platform.kube.get<KubeObject & { spec: { ports: { nodePort: number }[] } }>({
    apiVersion: 'v1',
    kind: 'Service',
    namespace: env.namespace,
    name: 'ssh',
  });
  assert.equal(service?.spec.ports[0]?.nodePort, connection.port);
  assert.match(connection.knownHosts, new RegExp(`^\\[labs\\.example\\.test\\]:${connection.port} ssh-ed25519 `));
  assert.match(connection.command, new RegExp(`-p ${connection.port} learner@labs\\.example\\.test$`));

  await breakfix.admin.forceRelease(lab.id);
  assert.equal(
    await platform.kube.get({ apiVersion: 'v1', kind: 'Service', namespace: env.namespace, name: 'ssh' }),
    undefined,
  );
  assert.equal(
    (await platform.allocator.leases()).find((lease) => lease.labId === lab.id),
    undefined,
    'the NodePort is free',
  );
});
