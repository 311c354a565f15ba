import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { chromium } from 'playwright-core';
import { call, closeFixtures, SCENARIO, startPlatform, TOKENS } from './fixture.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-results/', import.meta.url));
/** Debian's chromium package (scripts/ensure-deps.sh installs it). */
const CHROMIUM = process.env.BREAKFIX_CHROMIUM ?? '/usr/bin/chromium';
const closers: (() => Promise<void>)[] = [];
after(() => closeFixtures(closers));

test('an operator signs in and sees the pools, a claimed lab and the queues, in a real browser', async () => {
  // Given a pool with two ready labs, one of which a learner claims
  const platform = await startPlatform({ ready: 2 });
  closers.push(() => platform.queues.close());
  const claimed = await call(platform.app, 'POST', '/v1/labs', {
    token: TOKENS.bot.token,
    body: { learner: 'grace', scenario: SCENARIO },
  });
  assert.equal(claimed.status, 201);
  const { lab } = (await claimed.json()) as { lab: { id: string } };
  const server = serve({ fetch: platform.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  closers.unshift(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  closers.unshift(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });

  // Without a token the dashboard refuses
  const refused = await page.goto(`${base}/admin`);
  assert.equal(refused?.status(), 401);

  // When the operator signs in with their token
  await page.goto(`${base}/admin/login`);
  await page.fill('input[name=token]', TOKENS.admin.token);
  await Promise.all([page.waitForURL(`${base}/admin`), page.click('button[type=submit]')]);

  // Then the pool shows one ready against its min and one claimed, and the lab is listed with its learner
  const pool = page.locator(`#pools tr[data-pool="${platform.pool}"]`);
  assert.match((await pool.locator('[data-col=ready]').innerText()).trim(), /^1 \/ min 2$/);
  assert.equal((await pool.locator('[data-col=claimed]').innerText()).trim(), '1');
  assert.match((await pool.locator('[data-col=capacity]').innerText()).trim(), /^2 \/ max 4/);
  const row = page.locator(`#labs tr[data-lab="${lab.id}"]`);
  const cells = await row.locator('td').allInnerTexts();
  assert.deepEqual(cells.slice(1, 3), ['grace', SCENARIO]);
  assert.equal(cells[4], 'claimed');
  assert.match(cells[5] ?? '', /^\d+m \d{2}s$/);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });

  // And the BullMQ queues are one click away (bull-board)
  await page.click('a[href="/admin/queues"]');
  await page.waitForSelector('text=teardown', { timeout: 15_000 });
  assert.match(await page.title(), /breakfix queues|Bull Dashboard/i);
});
