import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@breakfix/core';
import { createLabActivity, type LabActivity, publishLabEvent } from '@breakfix/pool';
import { serve } from '@hono/node-server';
import { Redis } from 'ioredis';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import WebSocket from 'ws';
import { createTerminalSockets, type TerminalSockets } from '../src/index.js';
import { closeFixtures, SCENARIO, startPlatform, TOKENS } from './fixture.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-results/', import.meta.url));
/** Debian's chromium package (scripts/ensure-deps.sh installs it). */
const CHROMIUM = process.env.BREAKFIX_CHROMIUM ?? '/usr/bin/chromium';
const WAIT = { timeout: 20_000 };
const closers: (() => Promise<void>)[] = [];
after(() => closeFixtures(closers));

let base: string;
let labId: string;
let browser: Browser;
let terminals: TerminalSockets;
let activity: LabActivity;
let platform: Awaited<ReturnType<typeof startPlatform>>;

/** The page's clipboard, for page.evaluate (this file has no DOM types). */
type Clipboarded = {
  navigator: { clipboard: { writeText(text: string): Promise<void>; readText(): Promise<string> } };
};

/** What the terminal shows, as text (xterm.js renders rows into the DOM). */
const screen = async (page: Page) => (await page.locator('.xterm-rows').innerText()).replace(/\u00a0/g, ' ');
/** Waits until a row of the terminal matches `pattern` (xterm.js renders each row as a div). */
const waitForScreen = (page: Page, pattern: RegExp) =>
  page
    .locator('.xterm-rows > div')
    .filter({ hasText: pattern })
    .first()
    .waitFor(WAIT)
    .catch(async (error: unknown) => {
      throw new Error(`no line matching ${pattern} on the screen:\n${await screen(page)}`, { cause: error });
    });
/** Waits for the status bar to say `text`; a timeout names what it said instead and what the screen showed. */
async function waitForStatus(page: Page, text: string): Promise<void> {
  const exact = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  await page
    .locator('#status')
    .filter({ hasText: exact })
    .waitFor(WAIT)
    .catch(async (error: unknown) => {
      const said = await page.locator('#status').innerText();
      const banner = await page.locator('#ended').innerText();
      throw new Error(`status "${said}" instead of "${text}" (${banner}); screen:\n${await screen(page)}`, {
        cause: error,
      });
    });
}
/** `rows cols`, as the page sized the terminal (and as `stty size` prints it). */
const pageSize = async (page: Page) =>
  `${await page.locator('body').getAttribute('data-rows')} ${await page.locator('body').getAttribute('data-cols')}`;
async function typeLine(page: Page, line: string): Promise<void> {
  await page.locator('#terminal').click();
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
}

/** A fresh one-time link, asked for over HTTP as the Slack bot would. */
async function terminalLink(lab = labId): Promise<{ url: string; expiresAt: string; status: number }> {
  const response = await fetch(`${base}/v1/labs/${lab}/terminal-link`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKENS.bot.token}` },
  });
  return { ...((await response.json()) as { url: string; expiresAt: string }), status: response.status };
}

async function learnerTab(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  const response = await page.goto(url);
  assert.equal(response?.status(), 200, `the terminal page opens: ${await page.content()}`);
  return page;
}

/** A fresh browser profile (no cookies), closed when the test ends however it ends. */
async function contextFor(
  t: { after(fn: () => Promise<void>): void },
  options: Parameters<Browser['newContext']>[0] = {},
): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  t.after(() => context.close());
  return context;
}

before(async () => {
  // Given a platform with a lab claimed by grace, served on a real port with terminal sockets attached
  platform = await startPlatform({ ready: 2 });
  closers.push(() => platform.queues.close());
  activity = createLabActivity({ redis: platform.redis, prefix: platform.prefix.replace(/:$/, '') });
  const subscriber = new Redis(platform.info.redisUrl, { maxRetriesPerRequest: null });
  closers.push(async () => subscriber.disconnect());
  terminals = createTerminalSockets({
    redis: platform.redis,
    prefix: platform.prefix,
    store: platform.store,
    access: platform.access,
    activity,
    subscriber,
    tokens: Object.values(TOKENS),
    pingIntervalMs: 2_000,
    // Every keystroke counts here, so the test sees its own input touch the lab (xterm.js answers
    // the shell's terminal queries as input right at connect, which would use up a 10 s window).
    touchEveryMs: 0,
  });
  closers.unshift(() => terminals.close());
  const server = serve({ fetch: platform.app.fetch, port: 0, hostname: '127.0.0.1' });
  terminals.attach(server);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  closers.unshift(() => new Promise<void>((resolve) => server.close(() => resolve())));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const claimed = await fetch(`${base}/v1/labs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKENS.bot.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ learner: 'grace', scenario: SCENARIO }),
  });
  assert.equal(claimed.status, 201);
  labId = ((await claimed.json()) as { lab: { id: string } }).lab.id;

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  closers.unshift(() => browser.close());
});

test('a learner opens the one-time link, runs commands in a real shell, resizes it; the link works once', {
  timeout: 120_000,
}, async (t) => {
  // When the bot asks for a link and the learner opens it in a browser
  const link = await terminalLink();
  assert.equal(link.status, 201);
  assert.match(link.url, new RegExp(`^${base}/labs/${labId}/terminal\\?link=[A-Za-z0-9_-]{43}$`));
  assert.ok(Date.parse(link.expiresAt) - Date.now() <= 5 * 60_000);
  const context = await contextFor(t, { viewport: { width: 1000, height: 600 } });
  const page = await learnerTab(context, link.url);

  // Then the link's token is gone from the address bar and the session cookie is scoped to this lab
  await waitForStatus(page, 'connected');
  assert.equal(new URL(page.url()).pathname, `/labs/${labId}/terminal`);
  assert.equal(new URL(page.url()).search, '');
  const [cookie] = await context.cookies(`${base}/labs/${labId}/terminal`);
  assert.equal(cookie?.name, 'breakfix_terminal');
  assert.equal(cookie?.path, `/labs/${labId}/terminal`);
  assert.equal(cookie?.httpOnly, true);
  assert.equal(cookie?.sameSite, 'Strict');

  // When the learner types, the shell runs it as the learner with the window's size on its pty
  await typeLine(page, 'echo ok-$((6*7)); stty size; id -un');
  await waitForScreen(page, /^ok-42\s*$/);
  const size = await pageSize(page);
  await waitForScreen(page, new RegExp(`^${size}\\s*$`));
  assert.match(await screen(page), /^learner\s*$/m);
  mkdirSync(ARTIFACTS, { recursive: true });
  // docs/images/terminal.png (learner guide, README) is a copy of this screenshot, refreshed by hand
  // when the page changes: the test never writes into the tracked docs.
  await page.screenshot({ path: `${ARTIFACTS}terminal.png` });

  // Copy and paste work the desktop way: Ctrl+Shift+V pastes the clipboard into the shell, and a
  // selection copied with Ctrl+Shift+C lands on the clipboard
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  await page.evaluate(() =>
    (globalThis as unknown as Clipboarded).navigator.clipboard.writeText('echo pasted-$((5+5))'),
  );
  await page.locator('#terminal').click();
  await page.keyboard.press('Control+Shift+V');
  await waitForScreen(page, /\$ echo pasted-\$\(\(5\+5\)\)\s*$/); // the clipboard is read asynchronously
  await page.keyboard.press('Enter');
  await waitForScreen(page, /^pasted-10\s*$/);
  // (a double click selects the word under it, as in a desktop terminal; the screen layer takes the click)
  const row = await page.locator('.xterm-rows > div', { hasText: /^pasted-10\s*$/ }).boundingBox();
  assert.ok(row !== null);
  await page.mouse.dblclick(row.x + 20, row.y + row.height / 2);
  await page.keyboard.press('Control+Shift+C');
  const copied = await page.evaluate(() => (globalThis as unknown as Clipboarded).navigator.clipboard.readText());
  assert.match(copied, /pasted/);

  // When the window shrinks, the pty follows
  await page.setViewportSize({ width: 640, height: 400 });
  const [rows, cols] = size.split(' ');
  await page.locator(`body:not([data-rows="${rows}"][data-cols="${cols}"])`).waitFor(WAIT);
  const smaller = await pageSize(page);
  await typeLine(page, 'clear; stty size');
  await waitForScreen(page, new RegExp(`^${smaller}\\s*$`));

  // And a reload in the same browser keeps the session (the cookie), while the link's second use is refused
  await page.reload();
  await waitForStatus(page, 'connected');
  const elsewhere = await contextFor(t);
  const second = await elsewhere.newPage();
  const refused = await second.goto(link.url);
  assert.equal(refused?.status(), 410);
  assert.match(await second.locator('h1').innerText(), /already used/);
  assert.match(await second.locator('#action').innerText(), /\/lab open/);

  // And without a link or cookie the page says to get a fresh link; an unknown link says it expired
  const bare = await second.goto(`${base}/labs/${labId}/terminal`);
  assert.equal(bare?.status(), 401);
  assert.match(await second.locator('#action').innerText(), /\/lab open/);
  const unknown = await second.goto(`${base}/labs/${labId}/terminal?link=not-a-real-link`);
  assert.equal(unknown?.status(), 404);
  assert.match(await second.locator('h1').innerText(), /expired/);
  await elsewhere.close();
  await context.close();
});

test('a dropped socket reconnects to a fresh shell; a fifth tab on the lab is refused with a reason', {
  timeout: 120_000,
}, async (t) => {
  const context = await contextFor(t, { viewport: { width: 900, height: 500 } });
  const first = await learnerTab(context, (await terminalLink()).url);
  await waitForStatus(first, 'connected');
  await typeLine(first, 'export MARK=kept; echo mark-$MARK');
  await waitForScreen(first, /^mark-kept\s*$/);

  // When the server drops the socket, the page reconnects by itself to a new shell
  terminals.drop(labId);
  await waitForScreen(first, /connection lost: reconnecting/);
  await waitForStatus(first, 'connected');
  await typeLine(first, 'echo fresh-[$MARK]');
  await waitForScreen(first, /^fresh-\[\]\s*$/);

  // And a paste larger than a WebSocket frame (64 KiB) arrives whole: 1000 lines of 80 bytes
  const big = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(4, '0')} ${'x'.repeat(74)}\n`).join('');
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  await first.evaluate((text) => (globalThis as unknown as Clipboarded).navigator.clipboard.writeText(text), big);
  await typeLine(first, 'cat > /tmp/pasted.txt');
  await first.keyboard.press('Control+Shift+V');
  await waitForScreen(first, /^0999 x{74}\s*$/);
  await first.keyboard.press('Control+D');
  await typeLine(first, 'wc -c < /tmp/pasted.txt');
  await waitForScreen(first, /^\s*80000\s*$/);

  // When the learner opens three more tabs, all four work; the fifth is refused and says why
  const link = new URL(first.url());
  const tabs = [first];
  for (let i = 0; i < 3; i++) {
    const tab = await learnerTab(context, link.href);
    await waitForStatus(tab, 'connected');
    tabs.push(tab);
  }
  const fifth = await learnerTab(context, link.href);
  await waitForStatus(fifth, 'refused');
  assert.match(await fifth.locator('#ended').innerText(), /4 browser terminals are open on this lab already/);

  // And closing one makes room again
  await tabs.pop()?.close();
  await waitFor(async () => ((await activity.openTerminals(labId)) === 3 ? true : undefined), {
    what: 'the closed tab to be unregistered',
    timeoutMs: 10_000,
  });
  await fifth.reload();
  await waitForStatus(fifth, 'connected');
  await context.close();
});

test("links only for the lab's owner; the socket refuses a foreign Origin and a missing session", {
  timeout: 60_000,
}, async (t) => {
  const ask = (lab: string, token: string) =>
    fetch(`${base}/v1/labs/${lab}/terminal-link`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  assert.equal((await ask(labId, TOKENS.instructor.token)).status, 403, "an instructor's token, not grace's lab");
  assert.equal((await ask('e-nosuchlab', TOKENS.bot.token)).status, 404);
  assert.equal((await ask(labId, TOKENS.admin.token)).status, 201);

  const socketUrl = `${base.replace('http', 'ws')}/labs/${labId}/terminal/socket`;
  const foreign = new WebSocket(socketUrl, { origin: 'https://evil.example' });
  const status = await new Promise<number>((resolve, reject) => {
    foreign.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    foreign.on('open', () => reject(new Error('a foreign origin got a socket')));
    foreign.on('error', () => undefined);
  });
  assert.equal(status, 403);

  const anonymous = new WebSocket(socketUrl, { origin: base });
  const closed = await new Promise<{ code: number; reason: string }>((resolve) =>
    anonymous.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  assert.deepEqual(closed, { code: 4003, reason: 'no browser session for this lab: open a new link (/lab open)' });

  // And watching needs a dashboard sign-in as admin or instructor: the bot's token is not enough
  const watchUrl = `${base.replace('http', 'ws')}/admin/labs/${labId}/terminal/socket`;
  for (const token of [undefined, TOKENS.bot.token]) {
    const watcher = new WebSocket(watchUrl, {
      origin: base,
      headers: token === undefined ? {} : { Cookie: `breakfix_token=${token}` },
    });
    const refused = await new Promise<number>((resolve) => watcher.on('close', (code) => resolve(code)));
    assert.equal(refused, 4003, `watching with ${token === undefined ? 'no token' : 'a bot token'}`);
  }

  // And a lab claimed before browser terminals existed (no terminal key) says so instead of retrying
  const record = await platform.store.get(labId);
  const access = record.access ?? assert.fail('the claimed lab has access details');
  const { terminalKey: _sealed, ...older } = access;
  await platform.store.setAccess(labId, older);
  try {
    const page = await learnerTab(await contextFor(t), (await terminalLink()).url);
    await waitForStatus(page, 'refused');
    assert.match(await page.locator('#ended').innerText(), /no browser terminal: release it and claim a new one/);
  } finally {
    await platform.store.setAccess(labId, access);
  }
});

test('an instructor watches the terminal read-only; the learner sees a banner while watched', {
  timeout: 120_000,
}, async (t) => {
  const learner = await learnerTab(await contextFor(t), (await terminalLink()).url);
  await waitForStatus(learner, 'connected');
  assert.equal(await learner.locator('#watched').isHidden(), true);

  // When an instructor signs in to the dashboard and opens the lab's terminal from there
  const instructor = await (await contextFor(t)).newPage();
  await instructor.goto(`${base}/admin/login`);
  await instructor.fill('input[name=token]', TOKENS.instructor.token);
  await Promise.all([instructor.waitForURL(`${base}/admin`), instructor.click('button[type=submit]')]);
  await instructor.click(`#labs tr[data-lab="${labId}"] a.watch`);
  await instructor.waitForURL(`${base}/admin/labs/${labId}/terminal`);
  await waitForStatus(instructor, 'watching');

  // Then the learner is told, and what the learner runs shows on the instructor's screen
  await learner.waitForSelector('#watched:not([hidden])', WAIT);
  await typeLine(learner, 'echo watched-$((2*3))');
  await waitForScreen(instructor, /^watched-6\s*$/);
  assert.equal(await pageSize(instructor), await pageSize(learner), "laid out at the learner's size");

  // And nothing the instructor types reaches the lab
  await typeLine(instructor, 'echo typed-by-$((100+1))');
  await typeLine(learner, 'echo after-$((3*3))');
  await waitForScreen(learner, /^after-9\s*$/);
  assert.doesNotMatch(await screen(learner), /typed-by|101/);
  await instructor.screenshot({ path: `${ARTIFACTS}terminal-watch.png` });

  // When the instructor leaves, the banner goes
  await instructor.close();
  await learner.waitForSelector('#watched[hidden]', { ...WAIT, state: 'attached' });
  await learner.context().close();
});

test('an open terminal counts as activity, and shows the idle warning until activity resets it', {
  timeout: 120_000,
}, async (t) => {
  // (opened the way Slack opens it: a click on another site, so the SameSite=Strict cookie is set
  // by a cross-site navigation and must still reach the socket)
  const page = await (await contextFor(t)).newPage();
  const link = (await terminalLink()).url;
  await page.setContent(`<a id="open" href="${link}">Open terminal</a>`);
  await Promise.all([page.waitForURL(`${base}/labs/${labId}/terminal`), page.click('#open')]);
  await waitForStatus(page, 'connected');
  await waitFor(async () => ((await activity.openTerminals(labId)) === 1 ? true : undefined), {
    what: 'this terminal, and only it, registered as open',
    timeoutMs: 10_000,
  });

  // When the learner types, the lab's last activity moves forward
  const before = (await activity.lastActivity(labId)) ?? 0;
  await typeLine(page, 'echo busy-$((4*4))');
  await waitForScreen(page, /^busy-16\s*$/);
  await waitFor(async () => (((await activity.lastActivity(labId)) ?? 0) > before ? true : undefined), {
    what: 'input to touch the lab',
    timeoutMs: 10_000,
  });

  // When the idle reaper warns, the banner says so; when activity resets it, the banner goes
  const events = platform.prefix.replace(/:$/, '');
  const warning = 'No activity for 25 minutes: this lab is released in 5 minutes unless you use it.';
  await publishLabEvent(
    platform.redis,
    { labId, kind: 'idle-warning', message: warning, releaseAt: Date.now() + 300_000 },
    events,
  );
  await page.locator('#notice', { hasText: warning }).waitFor(WAIT);
  await publishLabEvent(platform.redis, { labId, kind: 'activity-reset', message: 'welcome back' }, events);
  await page.locator('#notice').waitFor({ ...WAIT, state: 'hidden' });

  // And closing the tab unregisters the terminal
  await page.close();
  await waitFor(async () => ((await activity.openTerminals(labId)) === 0 ? true : undefined), {
    what: 'the closed terminal to be unregistered',
    timeoutMs: 10_000,
    intervalMs: 50,
  });
});

test('when the lab is released, the open terminal says the lab ended and stops', { timeout: 120_000 }, async (t) => {
  const context = await contextFor(t);
  const page = await learnerTab(context, (await terminalLink()).url);
  await waitForStatus(page, 'connected');

  // When the learner releases the lab (here through the API, as /lab stop does)
  const released = await fetch(`${base}/v1/labs/${labId}`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${TOKENS.bot.token}` },
  });
  assert.equal(released.status, 200);

  // Then the page shows the lab ended and no longer reconnects
  await waitForStatus(page, 'lab ended');
  assert.match(await page.locator('#ended').innerText(), /released|ended/i);
  await page.screenshot({ path: `${ARTIFACTS}terminal-ended.png` });

  // And a reload, or a new link, is refused with what to do next
  const reloaded = await page.reload();
  assert.equal(reloaded?.status(), 410);
  assert.match(await page.locator('h1').innerText(), /has ended/);
  assert.equal((await terminalLink()).status, 409);
  await context.close();
});
