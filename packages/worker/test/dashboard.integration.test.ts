/// <reference lib="dom" />
import fs from 'node:fs/promises';
import path from 'node:path';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { browserForTests, browsersUnderTest, simulatedWorkerEnv, startLocalServer, startSimulator, type LocalServer, type Simulator } from '@wa-session-sync/test-support';
import { API_KEY, processesMentioning, spawnWorker, tempDir, waitFor, type WorkerProcess } from './helpers';

// The dashboard as an operator uses it: the built worker as a process with real Chromium against
// the simulator, and the page driven in another real Chromium by puppeteer-core.
jest.setTimeout(120_000);

const SHOTS_COPY_DIR = '/tmp/dashboard-shots';
const PHONE = '6281100000301';
const PAIRING_PHONE = '6281100000302';

describe('the dashboard, in a real browser', () => {
  const workerBrowser = browsersUnderTest()[0]!;
  let sim: Simulator;
  let dir: string;
  let worker: WorkerProcess;
  let browser: Browser;
  let page: Page;
  let attacker: LocalServer;
  const problems: string[] = [];

  const apiSession = async (id: string) => (await worker.api('GET', `/api/sessions/${id}`)).json as { status: string; updated_at: string };
  /** Every status the page showed for each session since the last reset, in order (recorded in the page). */
  const seen = (id: string) => page.evaluate((sessionId) => (window as unknown as { __seen: Record<string, string[]> }).__seen[sessionId] ?? [], id);
  const resetSeen = () => page.evaluate(() => ((window as unknown as { __seen: Record<string, string[]> }).__seen = {}));

  beforeAll(async () => {
    sim = await startSimulator({ quiet: true });
    dir = await tempDir('dashboard');
    worker = await spawnWorker({
      ...simulatedWorkerEnv(sim, { sessionsDir: path.join(dir, 'sessions'), logDir: path.join(dir, 'logs') }),
      ...workerBrowser.env,
      LOG_LEVEL: 'debug',
      WHATSAPP_WEBJS_HEALTH_CHECK_INTERVAL: '1',
      WHATSAPP_WEBJS_PROBE_TIMEOUT_MS: '1500',
      WHATSAPP_WEBJS_RECONNECT_BASE_DELAY_MS: '200',
    });
    const choice = await browserForTests();
    browser = await puppeteer.launch({
      executablePath: choice.executablePath,
      headless: choice.headless,
      env: { ...process.env, ...choice.env },
      // The test runs as root in CI containers, where Chromium's sandbox cannot start.
      args: ['--no-sandbox', `--user-data-dir=${path.join(dir, 'test-browser')}`],
    });
    page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()} (${message.location().url ?? ''})`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${String(error)}`));
    // A page of another origin: the same host, another port (the same site, so SameSite=Strict sends the cookie).
    attacker = await startLocalServer((request, response) => {
      const target = `${worker.url}/api/sessions/d1/reconnect`;
      response.setHeader('content-type', 'text/html');
      if (request.url === '/form') {
        response.end(`<form id="f" method="post" action="${target}"></form><script>document.getElementById('f').submit()</script>`);
      } else {
        response.end(
          `<script>fetch(${JSON.stringify(`${worker.url}/api/sessions`)}, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ session_id: 'evil', workspace_id: 'w1' }) }).finally(() => (document.title = 'sent'))</script>`,
        );
      }
    });
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await attacker?.close();
    if (worker && worker.child.exitCode === null) {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
    await waitFor(() => processesMentioning(dir).length === 0, 'Chromium to exit', 10_000).catch(() => undefined);
    const left = processesMentioning(dir);
    for (const pid of left) process.kill(pid, 'SIGKILL');
    await sim.stop().catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true });
    expect(left).toEqual([]);
  });

  afterEach(() => {
    // No console error and no page error, whatever the step.
    expect(problems).toEqual([]);
  });

  it('refuses a wrong key: the sign-in form again, nothing listed, no stream', async () => {
    await page.setViewport({ width: 1366, height: 900 });
    await page.goto(`${worker.url}/dashboard`);
    await page.type('#key', 'not-the-key-0123456789');
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    expect(await page.$eval('[role=alert]', (el) => el.textContent)).toBe('Wrong API key.');
    await fs.mkdir(SHOTS_COPY_DIR, { recursive: true });
    await page.screenshot({ path: path.join(dir, 'sign-in.png') as `${string}.png` });
    await fs.copyFile(path.join(dir, 'sign-in.png'), path.join(SHOTS_COPY_DIR, 'sign-in.png'));
    expect(page.url()).toBe(`${worker.url}/dashboard?sign-in=wrong-key`);
    expect(await page.$$('[data-session]')).toHaveLength(0);
    expect(await page.cookies()).toEqual([]);
    // Nor does anything listen without a sign-in.
    expect((await fetch(`${worker.url}/dashboard/events`)).status).toBe(401);
    expect((await fetch(`${worker.url}/api/sessions`)).status).toBe(401);
  });

  it('signs in with the key for an HttpOnly SameSite=Strict cookie; the key stays nowhere in the browser', async () => {
    await page.type('#key', API_KEY);
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    expect(page.url()).toBe(`${worker.url}/dashboard`);
    await page.waitForSelector('.stream-live', { timeout: 10_000 });
    expect(await page.$eval('.counts', (el) => el.textContent)).toContain('0 Sessions');
    const cookies = await page.cookies();
    expect(cookies).toEqual([expect.objectContaining({ name: 'wa_dashboard', httpOnly: true, sameSite: 'Strict', path: '/', secure: false })]);
    expect(cookies[0]!.value).not.toContain(API_KEY);
    const stored = await page.evaluate(() => [document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage), location.href, document.documentElement.outerHTML]);
    for (const value of stored) expect(value).not.toContain(API_KEY);
    // Records every status each card shows (a transition lasting milliseconds included), and marks the page to prove no reload.
    await page.evaluate(() => {
      const w = window as unknown as { __seen: Record<string, string[]>; __notReloaded: boolean };
      w.__seen = {};
      w.__notReloaded = true;
      const record = () => {
        for (const el of document.querySelectorAll<HTMLElement>('[data-session]')) {
          const list = (w.__seen[el.dataset.session!] ??= []);
          if (list[list.length - 1] !== el.dataset.status) list.push(el.dataset.status!);
        }
      };
      new MutationObserver(record).observe(document.getElementById('app')!, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
    });
  });

  it('starts a session from the form and pairs it by the QR the page shows, read from the screen as a phone would', async () => {
    await page.type('#start-session', 'd1');
    await page.type('#start-workspace', 'w1');
    await page.click('.start button[type=submit]');
    const img = await page.waitForSelector('[data-session="d1"] .qr img', { timeout: 45_000 });
    await page.waitForFunction((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0, { timeout: 10_000 }, img);
    const shot = PNG.sync.read(Buffer.from(await img!.screenshot()));
    const code = jsQR(new Uint8ClampedArray(shot.data), shot.width, shot.height);
    expect(code?.data).toBe((await worker.api('GET', '/api/sessions/d1')).json.qr);
    sim.scan(code!.data, PHONE);
    await page.waitForSelector('[data-session="d1"][data-status="connected"]', { timeout: 45_000 });
    expect(await seen('d1')).toEqual(['initializing', 'qr_scanning', 'authenticated', 'connected']);
    expect(await page.$eval('[data-session="d1"]', (el) => el.textContent)).toContain(PHONE);
    expect(await page.$eval('.counts', (el) => el.textContent)).toContain('1 Connected');
  });

  it('shows a drop and its heal live, each within a second of the worker knowing it', async () => {
    await resetSeen();
    sim.setState(PHONE, 'CONFLICT');
    await waitFor(async () => (await apiSession('d1')).status !== 'connected', 'the worker to see the drop', 30_000);
    await page.waitForSelector('[data-session="d1"]:not([data-status="connected"])', { timeout: 1000 });
    await waitFor(async () => (await apiSession('d1')).status === 'connected', 'the worker to heal d1', 45_000);
    await page.waitForSelector('[data-session="d1"][data-status="connected"]', { timeout: 1000 });
    const statuses = await seen('d1');
    expect(statuses[0]).toBe('reconnecting');
    expect(statuses[statuses.length - 1]).toBe('connected');
    expect(await page.$eval('[data-session="d1"]', (el) => el.textContent)).toContain('Connected');
  });

  it('reconnects with one click: the card leaves connected and comes back, without a reload', async () => {
    await resetSeen();
    // By keyboard: focused, Enter; the focus stays on the button while the card changes under it.
    await page.focus('[data-session="d1"] button.reconnect');
    await page.keyboard.press('Enter');
    await waitFor(async () => (await seen('d1')).at(-1) === 'connected' && (await seen('d1')).length > 1, 'd1 connected again on the page', 45_000);
    const statuses = await seen('d1');
    // A reconnect is a fresh launch of the session from its saved login: no QR on the way.
    expect(statuses).toEqual(['initializing', 'authenticated', 'connected']);
    expect(await page.evaluate(() => (window as unknown as { __notReloaded?: boolean }).__notReloaded)).toBe(true);
    expect(await page.$eval('.notice', (el) => el.textContent)).toBe('Reconnecting d1.');
    expect(await page.evaluate(() => document.activeElement?.matches('[data-session="d1"] button.reconnect'))).toBe(true);
  });

  it("opens d1's timeline by keyboard: its transitions and a 24 h uptime bar, kept live while open", async () => {
    await page.focus('[data-session="d1"] .timeline summary');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-session="d1"] .events li', { timeout: 10_000 });
    const entries = () => page.$$eval('[data-session="d1"] .events li', (items) => items.map((li) => `${(li as HTMLElement).dataset.to}|${(li as HTMLElement).dataset.reason}`));
    const shown = await entries();
    // Newest first: the reconnect's connection, the drop healed before it, the pairing by QR.
    expect(shown[0]).toBe('connected|');
    for (const to of ['initializing', 'qr_scanning', 'authenticated', 'reconnecting']) expect(shown.some((e) => e.startsWith(`${to}|`))).toBe(true);
    expect(shown.filter((e) => e.startsWith('connected|')).length).toBeGreaterThanOrEqual(3);
    // The bar: connected time and the time before the first connection.
    expect(await page.$$('[data-session="d1"] .uptime-bar rect.seg-up')).not.toHaveLength(0);
    expect(await page.$$('[data-session="d1"] .uptime-bar rect.seg-down')).not.toHaveLength(0);
    const label = await page.$eval('[data-session="d1"] .uptime-bar svg', (el) => el.getAttribute('aria-label'));
    expect(label).toMatch(/^Last 24 hours: uptime \d+\.\d %$/);
    const uptime = (await worker.api('GET', '/api/sessions/d1')).json.uptime_24h as number;
    expect(uptime).toBeGreaterThan(0);
    expect(uptime).toBeLessThan(1);

    // A drop while it is open shows in the timeline without a reload or reopening it.
    const connections = shown.filter((e) => e.startsWith('connected|')).length;
    sim.setState(PHONE, 'CONFLICT');
    await waitFor(async () => (await entries()).some((e, i) => i < 3 && e.startsWith('reconnecting|')), 'the drop in the open timeline', 30_000);
    await waitFor(async () => (await entries()).filter((e) => e.startsWith('connected|')).length === connections + 1, 'the heal in the open timeline', 45_000);
    expect(await page.evaluate(() => (window as unknown as { __notReloaded?: boolean }).__notReloaded)).toBe(true);
  });

  it("refuses the dashboard's own state change replayed from a page of another origin in the same signed-in browser", async () => {
    const before = await apiSession('d1');
    const other = await browser.newPage();
    const answers: number[] = [];
    other.on('response', (response) => {
      if (response.url().startsWith(worker.url)) answers.push(response.status());
    });
    await Promise.all([other.waitForNavigation({ waitUntil: 'load' }).catch(() => undefined), other.goto(`${attacker.url}/form`)]);
    await waitFor(() => answers.length >= 1, 'the forged reconnect to be answered', 10_000);
    await other.goto(`${attacker.url}/fetch`);
    await other.waitForFunction(() => document.title === 'sent', { timeout: 10_000 });
    await waitFor(() => answers.length >= 2, 'the forged start to be answered', 10_000);
    await other.close();
    expect(answers).toEqual([403, 403]);
    expect(await apiSession('d1')).toEqual(expect.objectContaining({ status: 'connected', updated_at: before.updated_at }));
    expect((await worker.api('GET', '/api/sessions/evil')).status).toBe(404);
  });

  it('reads well at phone and desktop widths, with a session waiting for its QR and one connected', async () => {
    await page.type('#start-session', 'd2');
    await page.type('#start-workspace', 'w1');
    await page.click('.start button[type=submit]');
    const img = await page.waitForSelector('[data-session="d2"] .qr img', { timeout: 45_000 });
    await page.waitForFunction((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0, { timeout: 10_000 }, img);
    await fs.mkdir(SHOTS_COPY_DIR, { recursive: true });
    for (const [name, width, height] of [['phone', 390, 844], ['desktop', 1366, 900]] as const) {
      await page.setViewport({ width, height });
      const file = path.join(dir, `dashboard-${name}.png`);
      await page.screenshot({ path: file as `${string}.png`, fullPage: true });
      await fs.copyFile(file, path.join(SHOTS_COPY_DIR, `dashboard-${name}.png`));
      // Nothing wider than the screen: no sideways scrolling on a phone.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
    }
  });

  it('pairs a session by a code the page asks for and shows, typed on the phone as read from the screen', async () => {
    await resetSeen();
    const card = '[data-session="d2"]';
    const input = `${card} input[name=phone_number]`;
    // A number the worker would refuse: said in words on the page, nothing asked of WhatsApp.
    await page.type(input, '0812-34ab');
    await page.keyboard.press('Enter');
    expect(await (await page.waitForSelector(`${card} .pairing-error`, { timeout: 5000 }))!.evaluate((el) => el.textContent)).toContain('country code first');
    expect((await worker.api('GET', '/api/sessions/d2')).json.pairing_code).toBeNull();
    // By keyboard, as people write numbers (spaces and a +).
    await page.click(input, { count: 3 });
    await page.type(input, `+62 811 0000 0302`);
    await page.keyboard.press('Enter');
    const shown = await page.waitForSelector(`${card} .pairing-code strong`, { timeout: 30_000 });
    const onScreen = (await shown!.evaluate((el) => el.textContent))!;
    expect(onScreen).toMatch(/^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$/);
    expect(onScreen.replace('-', '')).toBe((await worker.api('GET', '/api/sessions/d2')).json.pairing_code);
    expect(await page.$eval(card, (el) => el.textContent)).toContain('Link with phone number instead');
    expect(await page.$(`${card} .pairing-error`)).toBeNull();
    await fs.mkdir(SHOTS_COPY_DIR, { recursive: true });
    await page.setViewport({ width: 390, height: 844 });
    const file = path.join(dir, 'dashboard-pairing-code-phone.png');
    await (await page.$(card))!.screenshot({ path: file as `${string}.png` });
    await fs.copyFile(file, path.join(SHOTS_COPY_DIR, 'dashboard-pairing-code-phone.png'));
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.setViewport({ width: 1366, height: 900 });

    sim.enterCode(onScreen, PAIRING_PHONE);
    await page.waitForSelector(`${card}[data-status="connected"]`, { timeout: 45_000 });
    expect(await seen('d2')).toEqual(['qr_scanning', 'authenticated', 'connected']);
    expect(await page.$eval(card, (el) => el.textContent)).toContain(PAIRING_PHONE);
    expect(await page.$(`${card} .pairing`)).toBeNull();
  });

  it('stops a session with its button, and logs one out after a confirmation', async () => {
    await page.click('[data-session="d2"] .actions button:nth-child(2)');
    await page.waitForSelector('[data-session="d2"]', { hidden: true, timeout: 15_000 });
    const dialogs: string[] = [];
    page.once('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    await page.click('[data-session="d1"] button.danger');
    await page.waitForSelector('[data-session="d1"]', { hidden: true, timeout: 30_000 });
    expect(dialogs).toEqual([`Log out d1 (${PHONE})? Its login is deleted: the phone must scan a QR again.`]);
    expect((await worker.api('GET', '/api/sessions')).json.sessions).toEqual([]);
    await waitFor(() => fs.access(path.join(dir, 'sessions', 'w1', 'd1')).then(() => false, () => true), "d1's saved login removed", 10_000);
  });

  it('signs out: the server-side sign-in ends, its cookie opens nothing any more', async () => {
    const [cookie] = await page.cookies();
    // One stream for the whole visit: never cut and reopened.
    const streamOpens = await page.$eval('.stream', (el) => Number((el as HTMLElement).dataset.opens));
    await Promise.all([page.waitForNavigation(), page.click('.sign-out button')]);
    expect(await page.$('#key')).not.toBeNull();
    expect(await page.cookies()).toEqual([]);
    expect(streamOpens).toBe(1);
    const replayed = await fetch(`${worker.url}/api/sessions`, { headers: { cookie: `wa_dashboard=${cookie!.value}` } });
    expect(replayed.status).toBe(401);
    const log = await fs.readFile(path.join(dir, 'logs', 'whatsapp-service.log'), 'utf8');
    expect(log).toContain('Dashboard sign-in');
    expect(log).not.toContain(API_KEY);
    expect(log).not.toContain(cookie!.value);
  });
});
