import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { generateEd25519 } from '@breakfix/secrets';
import { closeRedisConnections, uniqueName, useSandbox } from '@breakfix/testkit';
import { createRateLimiter } from '../src/http/rate-limit.js';
import { call, closeFixtures, EMPTY_SCENARIO, SCENARIO, startPlatform, TOKENS, UNSERVED_SCENARIO } from './fixture.js';

let platform: Awaited<ReturnType<typeof startPlatform>>;
const { admin, instructor, bot } = TOKENS;

before(async () => {
  platform = await startPlatform({ ready: 2 });
});
after(async () => {
  await closeFixtures([() => platform.queues.close()]);
  closeRedisConnections();
});

async function problem(response: Response, status: number, code: string) {
  assert.equal(response.status, status, `status of ${response.url || 'the request'}`);
  assert.equal(response.headers.get('content-type'), 'application/problem+json');
  const body = (await response.json()) as Record<string, unknown>;
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  assert.equal(typeof body.detail, 'string');
  return body;
}

describe('probes, OpenAPI and metrics', () => {
  test('health, readiness, the OpenAPI document and its docs page answer', async () => {
    const { app } = platform;
    assert.deepEqual(await (await call(app, 'GET', '/healthz')).json(), { status: 'ok' });
    assert.deepEqual(await (await call(app, 'GET', '/readyz')).json(), { status: 'ready' });
    const doc = (await (await call(app, 'GET', '/openapi.json')).json()) as { paths: Record<string, object> };
    assert.deepEqual(Object.keys(doc.paths).sort(), [
      '/v1/admin/labs',
      '/v1/admin/labs/{id}/release',
      '/v1/labs',
      '/v1/labs/{id}',
      '/v1/labs/{id}/check',
      '/v1/labs/{id}/extend',
      '/v1/labs/{id}/hints',
      '/v1/labs/{id}/terminal-link',
      '/v1/learners/{learner}/lab',
      '/v1/learners/{learner}/ssh-key',
      '/v1/pools',
      '/v1/scenarios',
      '/v1/scenarios/{id}',
    ]);
    // A claim links to the lab's operations, by operations the document has, through the lab's id
    const full = doc as unknown as {
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, { links?: object }> }>>;
    };
    const operationIds = Object.values(full.paths).flatMap((methods) =>
      Object.values(methods).map((o) => o.operationId),
    );
    const links = (full.paths['/v1/labs']?.post?.responses['201']?.links ?? {}) as Record<
      string,
      { operationId: string; parameters: Record<string, string> }
    >;
    assert.deepEqual(
      Object.values(links)
        .map((l) => l.operationId)
        .sort(),
      ['checkLab', 'extendLab', 'getLab', 'nextHint', 'releaseLab', 'terminalLink'],
    );
    for (const link of Object.values(links)) {
      assert.ok(operationIds.includes(link.operationId), `${link.operationId} is an operation of the document`);
      assert.deepEqual(link.parameters, { id: '$response.body#/lab/id' });
    }
    const docs = await (await call(app, 'GET', '/docs')).text();
    assert.match(docs, /POST<\/code> <code>\/v1\/labs<\/code>/);
    await problem(await call(app, 'GET', '/v2/nothing'), 404, 'not_found');
    const metrics = await (await call(app, 'GET', '/metrics')).text();
    assert.match(
      metrics,
      /breakfix_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} 1/,
    );
  });
});

describe('methods', () => {
  test('a path the API serves answers a method it does not take with 405 and Allow', { timeout: 30_000 }, async () => {
    const { app } = platform;
    // Given paths the API serves, when called with a method no route of theirs declares
    const cases: [method: string, path: string, allow: string][] = [
      ['DELETE', '/v1/scenarios', 'GET, HEAD'],
      ['POST', '/v1/scenarios/some-scenario', 'GET, HEAD'],
      ['GET', '/v1/labs', 'POST'],
      ['PUT', '/v1/labs/e-any', 'DELETE, GET, HEAD'],
      ['GET', '/v1/labs/e-any/check', 'POST'],
      ['PATCH', '/v1/learners/ada/ssh-key', 'PUT'],
      ['DELETE', '/v1/admin/labs/e-any/release', 'POST'],
      ['OPTIONS', '/v1/pools', 'GET, HEAD'],
      ['GET', '/v1/labs/e-any/terminal-link', 'POST'],
      ['DELETE', '/v1/labs/e-any/hints', 'POST'],
      ['GET', '/v1/labs/e-any/extend', 'POST'],
      ['POST', '/v1/learners/ada/lab', 'GET, HEAD'],
      ['PUT', '/v1/admin/labs', 'GET, HEAD'],
      ['POST', '/healthz', 'GET, HEAD'],
      ['POST', '/readyz', 'GET, HEAD'],
      ['DELETE', '/metrics', 'GET, HEAD'],
      ['POST', '/openapi.json', 'GET, HEAD'],
      ['POST', '/docs', 'GET, HEAD'],
      ['POST', '/admin', 'GET, HEAD'],
      ['DELETE', '/admin/login', 'GET, HEAD, POST'],
      ['POST', '/labs/e-any/terminal', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const response = await call(app, method, path, { token: admin.token });
      // Then 405, with the methods the path does take, in the header and in the problem
      assert.equal(response.headers.get('allow'), allow, `Allow of ${method} ${path}`);
      const body = await problem(response, 405, 'method_not_allowed');
      assert.equal(body.detail, `${path} does not take ${method}`);
      assert.match(String(body.hint), new RegExp(`^use ${allow}; `));
    }
    // The answer is about the path, not the caller: it comes before authentication
    const anonymous = await call(app, 'DELETE', '/v1/scenarios');
    assert.equal(anonymous.headers.get('allow'), 'GET, HEAD');
    await problem(anonymous, 405, 'method_not_allowed');
    // And declared methods, HEAD of a GET route, and unknown paths answer as before
    assert.equal((await call(app, 'GET', '/v1/scenarios', { token: admin.token })).status, 200);
    assert.equal((await call(app, 'HEAD', '/v1/scenarios', { token: admin.token })).status, 200);
    await problem(await call(app, 'DELETE', '/v1/nothing', { token: admin.token }), 404, 'not_found');
    await problem(await call(app, 'GET', '/v1/labs/e-any/nothing', { token: admin.token }), 404, 'not_found');
  });
});

describe('tokens and roles', () => {
  test('no token or a wrong one is 401; a role that may not is 403', async () => {
    const { app } = platform;
    const none = await call(app, 'GET', '/v1/scenarios');
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="breakfix"');
    await problem(none, 401, 'unauthorized');
    await problem(
      await call(app, 'GET', '/v1/scenarios', { token: `${admin.token.slice(0, -1)}x` }),
      401,
      'unauthorized',
    );
    // The bot acts for learners but is no operator
    await problem(await call(app, 'GET', '/v1/admin/labs', { token: bot.token }), 403, 'forbidden');
    // An instructor may list labs but not force-release, nor act for someone else
    assert.equal((await call(app, 'GET', '/v1/admin/labs', { token: instructor.token })).status, 200);
    await problem(
      await call(app, 'POST', '/v1/admin/labs/anything/release', { token: instructor.token }),
      403,
      'forbidden',
    );
    const forOther = await problem(
      await call(app, 'POST', '/v1/labs', { token: instructor.token, body: { learner: 'bob', scenario: SCENARIO } }),
      403,
      'forbidden',
    );
    assert.match(String(forOther.hint), /bot or admin/);
  });
});

describe('scenarios and pools', () => {
  test('the catalog lists each scenario with its pool; an unknown one is 404', async () => {
    const { app, pool } = platform;
    const { scenarios } = (await (await call(app, 'GET', '/v1/scenarios', { token: bot.token })).json()) as {
      scenarios: { id: string; pool: string | null }[];
    };
    assert.equal(scenarios.find((s) => s.id === SCENARIO)?.pool, pool);
    const one = (await (await call(app, 'GET', `/v1/scenarios/${SCENARIO}`, { token: bot.token })).json()) as {
      hintCount: number;
      brief: string;
    };
    assert.equal(one.hintCount, 3);
    assert.match(one.brief, /6443/);
    await problem(await call(app, 'GET', '/v1/scenarios/nope', { token: bot.token }), 404, 'not_found');
  });

  test('pools report ready labs against their targets', async () => {
    const { app, pool } = platform;
    const { pools } = (await (await call(app, 'GET', '/v1/pools', { token: instructor.token })).json()) as {
      pools: { name: string; min: number; max: number; counts: { ready: number } }[];
    };
    const mine = pools.find((p) => p.name === pool);
    assert.ok(mine !== undefined);
    assert.ok(mine.counts.ready >= 1);
    assert.equal(mine.min, 2);
    assert.equal(mine.max, 4);
  });
});

describe('claiming', () => {
  test('a malformed body is 400 naming the field; an unknown scenario is 404', async () => {
    const { app } = platform;
    const missing = await problem(
      await call(app, 'POST', '/v1/labs', { token: bot.token, body: { learner: 'zed' } }),
      400,
      'invalid_input',
    );
    assert.deepEqual(
      (missing.errors as { field: string }[]).map((e) => e.field),
      ['scenario'],
    );
    assert.match(String(missing.detail), /^scenario: /);
    const badLearner = await problem(
      await call(app, 'POST', '/v1/labs', { token: bot.token, body: { learner: 'no spaces', scenario: SCENARIO } }),
      400,
      'invalid_input',
    );
    assert.equal((badLearner.errors as { field: string }[])[0]?.field, 'learner');
    await problem(
      await call(app, 'POST', '/v1/labs', { token: bot.token, body: '{"scenario":', headers: {} }),
      400,
      'invalid_input',
    );
    await problem(
      await call(app, 'POST', '/v1/labs', { token: bot.token, body: { learner: 'zed', scenario: 'nope' } }),
      404,
      'not_found',
    );
    const privateKey = await problem(
      await call(app, 'POST', '/v1/labs', {
        token: bot.token,
        body: { learner: 'zed', scenario: SCENARIO, publicKey: generateEd25519('x').privateKey },
      }),
      400,
      'invalid_input',
    );
    assert.match(String(privateKey.detail), /private key/);
  });

  test('a claim answers once per Idempotency-Key; a second lab for the learner is refused', async () => {
    const { app, redis, prefix } = platform;
    const key = randomUUID();
    const claim = () =>
      call(app, 'POST', '/v1/labs', {
        token: bot.token,
        body: { learner: 'ada', scenario: SCENARIO },
        headers: { 'Idempotency-Key': key },
      });

    // Given a warm pool, when the bot claims for ada with an Idempotency-Key
    const first = await claim();
    assert.equal(first.status, 201);
    const body = (await first.json()) as {
      lab: { id: string; state: string; learner: string; secondsLeft: number; hintsTotal: number };
      connection: { host: string; port: number; user: string; knownHosts: string; command: string; privateKey: string };
    };
    // Then she gets a claimed lab, a generated key and a pinned known_hosts line
    assert.equal(body.lab.state, 'claimed');
    assert.equal(body.lab.learner, 'ada');
    assert.ok(body.lab.secondsLeft > 9 * 60 && body.lab.secondsLeft <= 10 * 60);
    assert.match(body.connection.privateKey, /OPENSSH PRIVATE KEY/);
    assert.match(body.connection.knownHosts, /^\S+ ssh-ed25519 \S+$/);
    assert.match(body.connection.command, new RegExp(`-i breakfix-${body.lab.id}\\.key .*StrictHostKeyChecking=yes`));
    assert.equal(first.headers.get('location'), `/v1/labs/${body.lab.id}`);

    // When the same request is replayed with the same key, the first result comes back, key included
    const replay = await claim();
    assert.equal(replay.status, 201);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(((await replay.json()) as typeof body).connection, body.connection);
    // and Redis never holds the private key in clear
    const stored = await redis.keys(`${prefix}idempotency:*`);
    for (const k of stored) assert.doesNotMatch((await redis.get(k)) ?? '', /PRIVATE KEY|ssh-ed25519/);

    // The same key for another request is a conflict
    await problem(
      await call(app, 'POST', '/v1/labs', {
        token: bot.token,
        body: { learner: 'bea', scenario: SCENARIO },
        headers: { 'Idempotency-Key': key },
      }),
      409,
      'conflict',
    );
    // A new claim for ada, without the key, says which lab she already holds
    const again = await problem(
      await call(app, 'POST', '/v1/labs', { token: bot.token, body: { learner: 'ada', scenario: SCENARIO } }),
      409,
      'conflict',
    );
    assert.equal(again.labId, body.lab.id);
    await call(app, 'DELETE', `/v1/labs/${body.lab.id}`, { token: bot.token });
  });

  test('a scenario no pool serves is 409 naming the pool an operator would add', async () => {
    const { app } = platform;
    // The pools match its workers and version, not its CNI.
    const body = await problem(
      await call(app, 'POST', '/v1/labs', { token: bot.token, body: { learner: 'cal', scenario: UNSERVED_SCENARIO } }),
      409,
      'conflict',
    );
    assert.match(String(body.detail), /no pool serves scenario sim-kubeconfig-drift-calico .*calico/);
    assert.match(String(body.hint), /add a pool to the pools file, e\.g\. \{ name: k8s-1\.36-0w-calico, .*cni: calico/);
  });

  test("an empty pool is 503 with the learner's place in the queue", async () => {
    const { app } = platform;
    const response = await call(app, 'POST', '/v1/labs', {
      token: bot.token,
      body: { learner: 'cy', scenario: EMPTY_SCENARIO },
    });
    assert.equal(response.headers.get('retry-after'), '10');
    const first = await problem(response, 503, 'pool_exhausted');
    assert.equal(first.queuePosition, 1);
    assert.equal(first.provisioning, 0);
    const second = await problem(
      await call(app, 'POST', '/v1/labs', { token: bot.token, body: { learner: 'dee', scenario: EMPTY_SCENARIO } }),
      503,
      'pool_exhausted',
    );
    assert.equal(second.queuePosition, 2);
    const { pools } = (await (await call(app, 'GET', '/v1/pools', { token: bot.token })).json()) as {
      pools: { name: string; waiting: number }[];
    };
    assert.equal(pools.find((p) => p.name === second.pool)?.waiting, 2);
  });
});

describe('a claimed lab', () => {
  test('get, check, hints, extend, current lab, admin listing, release and force-release', async () => {
    const { app, queues } = platform;
    const mine = generateEd25519('eve@laptop');
    // Given eve registered her key, when she claims, then it is installed and no key is generated
    const registered = (await (
      await call(app, 'PUT', '/v1/learners/eve/ssh-key', { token: bot.token, body: { publicKey: mine.publicKey } })
    ).json()) as { fingerprint: string };
    assert.match(registered.fingerprint, /^SHA256:/);
    await problem(
      await call(app, 'PUT', '/v1/learners/eve/ssh-key', { token: bot.token, body: { publicKey: 'ssh-ed25519 !!' } }),
      400,
      'invalid_input',
    );
    const claimed = await call(app, 'POST', '/v1/labs', {
      token: bot.token,
      body: { learner: 'eve', scenario: SCENARIO },
    });
    assert.equal(claimed.status, 201);
    const { lab, connection } = (await claimed.json()) as {
      lab: { id: string; expiresAt: string };
      connection: { privateKey?: string; command: string };
    };
    assert.equal(connection.privateKey, undefined);
    assert.doesNotMatch(connection.command, / -i /);

    // Get, and the learner's current lab
    const got = (await (await call(app, 'GET', `/v1/labs/${lab.id}`, { token: bot.token })).json()) as {
      state: string;
      connection: { knownHosts: string } | null;
    };
    assert.equal(got.state, 'claimed');
    assert.ok(got.connection?.knownHosts);
    const current = (await (await call(app, 'GET', '/v1/learners/eve/lab', { token: bot.token })).json()) as {
      id: string;
    };
    assert.equal(current.id, lab.id);
    await problem(await call(app, 'GET', '/v1/learners/nobody/lab', { token: bot.token }), 404, 'not_found');
    await problem(await call(app, 'GET', '/v1/labs/e-unknown', { token: bot.token }), 404, 'not_found');
    // An instructor cannot look at a learner's lab
    await problem(await call(app, 'GET', `/v1/labs/${lab.id}`, { token: instructor.token }), 403, 'forbidden');

    // Check runs the scenario's check over SSH: the break is in place
    const check = (await (await call(app, 'POST', `/v1/labs/${lab.id}/check`, { token: bot.token })).json()) as {
      solved: boolean;
      feedback: string[];
    };
    assert.equal(check.solved, false);
    assert.ok(check.feedback.some((line) => /6443/.test(line)));

    // Hints come one at a time, then run out
    for (const index of [1, 2, 3]) {
      const hint = (await (await call(app, 'POST', `/v1/labs/${lab.id}/hints`, { token: bot.token })).json()) as {
        index: number;
        remaining: number;
      };
      assert.deepEqual([hint.index, hint.remaining], [index, 3 - index]);
    }
    await problem(await call(app, 'POST', `/v1/labs/${lab.id}/hints`, { token: bot.token }), 409, 'conflict');

    // Extend pushes the expiry out, up to twice the time limit
    const extended = (await (
      await call(app, 'POST', `/v1/labs/${lab.id}/extend`, { token: bot.token, body: { minutes: 5 } })
    ).json()) as { expiresAt: string; hintsRevealed: number };
    assert.ok(Date.parse(extended.expiresAt) > Date.parse(lab.expiresAt));
    assert.equal(extended.hintsRevealed, 3);
    await problem(
      await call(app, 'POST', `/v1/labs/${lab.id}/extend`, { token: bot.token, body: { minutes: 0 } }),
      400,
      'invalid_input',
    );
    await call(app, 'POST', `/v1/labs/${lab.id}/extend`, { token: bot.token, body: { minutes: 60 } });
    await problem(
      await call(app, 'POST', `/v1/labs/${lab.id}/extend`, { token: bot.token, body: { minutes: 60 } }),
      409,
      'conflict',
    );

    // The admin listing shows it
    const { labs } = (await (
      await call(app, 'GET', '/v1/admin/labs?state=claimed', { token: admin.token })
    ).json()) as {
      labs: { id: string; learner: string }[];
    };
    assert.ok(labs.some((l) => l.id === lab.id && l.learner === 'eve'));
    await problem(await call(app, 'GET', '/v1/admin/labs?state=bogus', { token: admin.token }), 400, 'invalid_input');

    // An admin force-releases it: access closes, the teardown is queued, the learner may claim again
    const released = (await (
      await call(app, 'POST', `/v1/admin/labs/${lab.id}/release`, { token: admin.token })
    ).json()) as { state: string; connection: unknown };
    assert.equal(released.state, 'releasing');
    assert.equal(released.connection, null);
    const [, teardown] = queues.queues;
    assert.ok(await teardown?.getJob(`teardown-${lab.id}`), 'a teardown job is queued');
    await problem(await call(app, 'POST', `/v1/labs/${lab.id}/check`, { token: bot.token }), 409, 'conflict');
    await problem(await call(app, 'GET', '/v1/learners/eve/lab', { token: bot.token }), 404, 'not_found');
    // A second release is harmless
    assert.equal((await call(app, 'DELETE', `/v1/labs/${lab.id}`, { token: bot.token })).status, 200);
    await problem(
      await call(app, 'POST', '/v1/admin/labs/e-unknown/release', { token: admin.token }),
      404,
      'not_found',
    );
  });
});

describe('releasing', () => {
  test('a lab nobody claimed is not released: 409, and it stays ready in its pool', async () => {
    // Given a pool with one ready lab (a platform of its own: the other tests claim theirs)
    const own = await startPlatform({ ready: 1 });
    try {
      const { labs } = (await (
        await call(own.app, 'GET', '/v1/admin/labs?state=ready', { token: admin.token })
      ).json()) as { labs: { id: string }[] };
      const ready = labs[0] ?? assert.fail('the pool has a ready lab');
      // When someone releases it
      const refused = await problem(
        await call(own.app, 'DELETE', `/v1/labs/${ready.id}`, { token: bot.token }),
        409,
        'conflict',
      );
      // Then they hear why, and the lab stays where it was for the next claim
      assert.match(String(refused.detail), /is ready: nobody claimed it/);
      assert.equal((await own.store.get(ready.id)).state, 'ready');
    } finally {
      await own.queues.close();
    }
  });
});

describe('rate limit', () => {
  test('a learner over the limit gets 429 with Retry-After; others are not affected', async () => {
    const limited = await startPlatform({ ready: 0, overrides: { rateLimit: { limit: 3, windowMs: 60_000 } } });
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await call(limited.app, 'GET', '/v1/learners/fay/lab', { token: bot.token })).status, 404);
      }
      const over = await call(limited.app, 'GET', '/v1/learners/fay/lab', { token: bot.token });
      assert.ok(Number(over.headers.get('retry-after')) >= 1);
      await problem(over, 429, 'rate_limited');
      assert.equal((await call(limited.app, 'GET', '/v1/learners/gus/lab', { token: bot.token })).status, 404);
    } finally {
      await limited.queues.close();
    }
  });

  test('the limit refills smoothly: no window edge lets twice the limit through', async () => {
    const { redis } = await useSandbox();
    let now = 1_000_000;
    const hit = createRateLimiter({
      redis: redis(),
      prefix: `${uniqueName('rl')}:`,
      limit: 3,
      windowMs: 3_000,
      now: () => now,
    });
    const outcome = async () =>
      hit('hal').then(
        () => 'ok',
        (error: { code?: string; retryAfter?: number }) => `${error.code} ${error.retryAfter}`,
      );
    // Given a burst of 3 spent
    assert.deepEqual(
      [await outcome(), await outcome(), await outcome(), await outcome()],
      ['ok', 'ok', 'ok', 'rate_limited 1'],
    );
    // When one interval (3 s / 3) passes, one more request goes through, not a whole new window's worth
    now += 1_000;
    assert.deepEqual([await outcome(), await outcome()], ['ok', 'rate_limited 1']);
    // And after a full quiet window the burst is back
    now += 3_000;
    assert.deepEqual(
      [await outcome(), await outcome(), await outcome(), await outcome()],
      ['ok', 'ok', 'ok', 'rate_limited 1'],
    );
  });
});

describe('a lab in trouble', () => {
  test('a check that cannot trust the lab any more flags it for attention, in the API and the failure log', async () => {
    const troubled = await startPlatform({ ready: 1 });
    try {
      const claimed = await call(troubled.app, 'POST', '/v1/labs', {
        token: bot.token,
        body: { learner: 'ike', scenario: SCENARIO },
      });
      assert.equal(claimed.status, 201);
      const { lab } = (await claimed.json()) as { lab: { id: string; attention: string | null } };
      assert.equal(lab.attention, null);
      // When the control plane presents another host key than the pinned one (a replaced VM, or worse)
      await troubled.store.setHostKeys(lab.id, { cp: generateEd25519('impostor').publicKey });
      const check = await call(troubled.app, 'POST', `/v1/labs/${lab.id}/check`, { token: bot.token });
      // Then the learner hears it is breakfix's problem, not theirs
      const body = (await check.json()) as { code: string; detail: string };
      assert.ok(check.status >= 500, `status ${check.status}`);
      assert.equal(body.code, 'upstream');
      // And the lab carries the reason for operators: in its view and in the admin listing
      const view = (await (await call(troubled.app, 'GET', `/v1/labs/${lab.id}`, { token: bot.token })).json()) as {
        attention: string | null;
      };
      assert.match(view.attention ?? '', /host key/i);
      const listed = (await (
        await call(troubled.app, 'GET', '/v1/admin/labs?state=claimed', { token: admin.token })
      ).json()) as { labs: { id: string; attention: string | null }[] };
      assert.match(listed.labs.find((l) => l.id === lab.id)?.attention ?? '', /host key/i);
    } finally {
      await troubled.queues.close();
    }
  });
});
