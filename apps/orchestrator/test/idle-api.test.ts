import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { lastActivityKey } from '@breakfix/pool';
import { closeRedisConnections } from '@breakfix/testkit';
import { renderDashboard } from '../src/dashboard/render.js';
import type { LabBody } from '../src/schemas.js';
import { call, closeFixtures, SCENARIO, startPlatform, TOKENS } from './fixture.js';

let platform: Awaited<ReturnType<typeof startPlatform>>;
const { bot } = TOKENS;

before(async () => {
  platform = await startPlatform({ ready: 1 });
});
after(async () => {
  await closeFixtures([() => platform.queues.close()]);
  closeRedisConnections();
});

interface LabView {
  id: string;
  state: string;
  idle: { warnedAt: string; releaseAt: string } | null;
  ended: { reason: string; at: string; message: string } | null;
}

const getLab = async (id: string) =>
  (await (await call(platform.app, 'GET', `/v1/labs/${id}`, { token: bot.token })).json()) as LabView;

test('the lab says when it is warned as idle, an extension withdraws it, and an idle release says why', {
  timeout: 120_000,
}, async () => {
  const { app, store } = platform;
  const claimed = await call(app, 'POST', '/v1/labs', {
    token: bot.token,
    body: { learner: 'ivo', scenario: SCENARIO },
  });
  assert.equal(claimed.status, 201);
  const { lab } = (await claimed.json()) as { lab: LabView };
  assert.equal(lab.idle, null);
  assert.equal(lab.ended, null);

  // When the idle reaper warns the learner, the lab shows it
  const warnedAt = Date.now();
  const releaseAt = warnedAt + 5 * 60_000;
  assert.equal(await store.warnIdle(lab.id, { warnedAt, releaseAt }), true);
  assert.deepEqual((await getLab(lab.id)).idle, {
    warnedAt: new Date(warnedAt).toISOString(),
    releaseAt: new Date(releaseAt).toISOString(),
  });

  // Extending is activity: the warning is gone from the lab at once
  const extended = await call(app, 'POST', `/v1/labs/${lab.id}/extend`, { token: bot.token, body: { minutes: 5 } });
  assert.equal(extended.status, 200);
  assert.equal(((await extended.json()) as LabView).idle, null);
  assert.equal((await getLab(lab.id)).idle, null);

  // And once released as idle (warned again, and nothing happened since), the lab says so
  const later = Date.now() + 20 * 60_000;
  await store.warnIdle(lab.id, { warnedAt: later - 5 * 60_000, releaseAt: later });
  const outcome = await store.releaseIdle(lab.id, {
    activityKey: lastActivityKey(lab.id, platform.prefix.replace(/:$/, '')),
    idleMs: 10 * 60_000,
    now: later,
  });
  assert.equal(outcome.outcome, 'idle');
  const ended = await getLab(lab.id);
  assert.equal(ended.state, 'releasing');
  assert.equal(ended.idle, null);
  assert.equal(ended.ended?.reason, 'idle');
  assert.match(ended.ended?.message ?? '', /^released after a while without activity$/);
  // and so does the operator dashboard's row of it
  const row = renderDashboard({
    pools: [],
    labs: [(await (await call(app, 'GET', `/v1/labs/${lab.id}`, { token: bot.token })).json()) as LabBody],
    failures: [],
    queueBoard: false,
    now: Date.now(),
  });
  assert.match(row, /data-ended="idle">released after a while without activity</);
});

test('pools say whether their labs idle out', { timeout: 30_000 }, async () => {
  const response = await call(platform.app, 'GET', '/v1/pools', { token: bot.token });
  const { pools } = (await response.json()) as { pools: { name: string; idleMinutes: number | null }[] };
  assert.deepEqual(
    pools.filter((p) => p.name === platform.pool).map((p) => p.idleMinutes),
    [null],
  );
});
