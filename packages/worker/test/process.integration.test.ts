import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import fs from 'node:fs/promises';
import path from 'node:path';
import { browsersUnderTest, simulatedWorkerEnv, startSimulator, type BrowserUnderTest, type Simulator } from '@wa-session-sync/test-support';
import {
  API_KEY,
  browserProcesses,
  endProcessSuite,
  processesMentioning,
  spawnWorker,
  startReceiver,
  tempDir,
  waitFor,
  WORKER_BIN,
  type Receiver,
  type WorkerProcess,
} from './helpers';
import { LOCK_FILE } from '../src/browser/dir-lock';
import { markerArg } from '../src/browser/launch';
import { readStat } from '../src/browser/proc';
import { sign } from '../src/events/webhook';

// The built worker (dist/main.js) as a process, real Chromium, the simulator: what operators run.
jest.setTimeout(120_000);

describe('wa-worker configuration errors', () => {
  it('exits 2 with one line when the API key is missing or a number is bad', () => {
    for (const env of [{}, { WHATSAPP_NODE_API_KEY: 'k', WHATSAPP_RESTORE_CONCURRENCY: 'many' }]) {
      let status: number | null = null;
      let stderr = '';
      try {
        execFileSync(process.execPath, [WORKER_BIN], { env: { PATH: process.env.PATH, ...env }, stdio: 'pipe' });
      } catch (error) {
        status = (error as { status: number }).status;
        stderr = String((error as { stderr: Buffer }).stderr);
      }
      expect(status).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/^wa-worker: (WHATSAPP_NODE_API_KEY|WHATSAPP_RESTORE_CONCURRENCY): /);
    }
  });

  it('exits 2 naming WHATSAPP_WEBJS_WEB_VERSION_REMOTE_PATH when the remote web-version cache has none', () => {
    const run = spawnSync(process.execPath, [WORKER_BIN], {
      env: { PATH: process.env.PATH, WHATSAPP_NODE_API_KEY: API_KEY, WHATSAPP_WEBJS_WEB_VERSION_CACHE: 'remote' },
      encoding: 'utf8',
    });
    expect([run.status, run.stderr]).toEqual([
      2,
      'wa-worker: WHATSAPP_WEBJS_WEB_VERSION_REMOTE_PATH: is required when WHATSAPP_WEBJS_WEB_VERSION_CACHE=remote (a URL template with {version})\n',
    ]);
  });
});

describe('wa-worker guessable secrets', () => {
  it.each([
    ['WHATSAPP_NODE_API_KEY', 'passwordpassword', 'is a shorter string repeated'],
    ['WHATSAPP_NODE_API_KEY', 'change-me-worker-api-key', 'is the placeholder from .env.example'],
    ['WHATSAPP_NODE_API_KEY', 'zzzzzzzzzzzzzzzzzzzzzzzz', 'is one character repeated'],
    ['WHATSAPP_NODE_API_KEY', 'admin-admin-1234', 'is too easy to guess (under 60 bits estimated)'],
    ['WHATSAPP_WEBHOOK_SECRET', 'hookhookhookhook', 'is a shorter string repeated'],
  ])('refuses %s=%s at start: exit 2 naming the rule, never the secret', (name, value, rule) => {
    const env = { PATH: process.env.PATH, WHATSAPP_NODE_API_KEY: API_KEY, WHATSAPP_WEBHOOK_URL: 'http://127.0.0.1:9/hook', WHATSAPP_WEBHOOK_SECRET: 'process-webhook-secret', [name]: value };
    let status: number | null = 0;
    let stderr = '';
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wa-worker-guessable-'));
    Object.assign(env, { WHATSAPP_SESSIONS_DIR: path.join(dir, 'sessions'), LOG_DIR: path.join(dir, 'logs') });
    try {
      // Bounded: a worker that takes the secret starts and would run on.
      execFileSync(process.execPath, [WORKER_BIN], { env: { ...env, PORT: '0' }, stdio: 'pipe', timeout: 10_000 });
    } catch (error) {
      status = (error as { status: number | null }).status;
      stderr = String((error as { stderr: Buffer }).stderr);
    }
    expect(status).toBe(2);
    expect(stderr).toBe(`wa-worker: ${name}: ${rule}: ${rule.startsWith('is the placeholder') ? 'set a secret of your own' : 'set a random secret'} (e.g. openssl rand -hex 32)\n`);
    expect(stderr).not.toContain(value.slice(0, 8));
    rmSync(dir, { recursive: true, force: true });
  });
});

// The whole flow as one named scenario, on the browser the worker picks here (every system browser
// with WA_TEST_BROWSERS=system, CI's matrix). Its steps run in order, each on the worker, sessions
// and browsers the one before left: a step after a failed one is reported as not run, naming the
// step that failed, instead of failing for a reason of its own.
describe.each(browsersUnderTest().map((browser) => [browser.name, browser] as [string, BrowserUnderTest]))('scenario: the life of one worker process, on %s', (_name, browser) => {
  let failedStep: string | undefined;
  const step = (name: string, run: () => Promise<void>, timeoutMs?: number) =>
    it(
      name,
      async () => {
        if (failedStep) throw new Error(`not run: the earlier step "${failedStep}" failed`);
        try {
          await run();
        } catch (error) {
          failedStep = name;
          throw error;
        }
      },
      timeoutMs,
    );

  let sim: Simulator;
  let receiver: Receiver;
  let dir: string;
  let sessionsDir: string;
  let logDir: string;
  let worker: WorkerProcess | undefined;
  const phones: Record<string, string> = { p1: '6281100000001', p2: '6281100000002' };

  const env = () => ({
    ...simulatedWorkerEnv(sim, { sessionsDir, logDir }),
    ...browser.env,
    LOG_LEVEL: 'debug',
    WHATSAPP_WEBJS_HEALTH_CHECK_INTERVAL: '1',
    WHATSAPP_WEBJS_PROBE_TIMEOUT_MS: '1500',
    WHATSAPP_WEBJS_RECONNECT_BASE_DELAY_MS: '200',
    WHATSAPP_WEBHOOK_URL: receiver.url,
    WHATSAPP_WEBHOOK_SECRET: 'process-webhook-secret',
    WHATSAPP_WEBHOOK_RETRY_BASE_MS: '50',
  });

  const status = async (id: string) => (await worker!.api('GET', `/api/sessions/${id}`)).json?.status;
  const profile = (id: string) => path.join(sessionsDir, 'w1', id, 'session');

  beforeAll(async () => {
    sim = await startSimulator({ quiet: true });
    // Refuses every event once (503): each reaches it on its retry, with the same id.
    const refused = new Set<string>();
    receiver = await startReceiver((event) => (refused.has(event.id) ? 200 : (refused.add(event.id), 503)));
    dir = await tempDir('proc');
    sessionsDir = path.join(dir, 'sessions');
    logDir = path.join(dir, 'logs');
  });

  afterAll(async () => {
    expect(await endProcessSuite({ worker, dir, sim, receiver })).toEqual([]);
  });

  step('1. launches one Chromium for two concurrent POSTs of one session, then pairs by QR and reports every step', async () => {
    worker = await spawnWorker(env());
    const body = { session_id: 'p1', workspace_id: 'w1' };
    const answers = await Promise.all([worker.api('POST', '/api/sessions', body), worker.api('POST', '/api/sessions', body)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 201]);
    const qr = await waitFor(async () => (await worker!.api('GET', '/api/sessions/p1')).json.qr as string | null, 'a QR', 45_000);
    expect(browserProcesses(profile('p1'))).toHaveLength(1);
    sim.scan(qr, phones.p1!);
    await waitFor(async () => (await status('p1')) === 'connected', 'p1 connected', 45_000);
    const picked = JSON.parse(readFileSync(path.join(logDir, 'whatsapp-service.log'), 'utf8').split('\n').find((line) => line.includes('"message":"Browser"'))!);
    expect(picked).toMatchObject({ source: browser.source, headless: browser.headless });

    // the seed scripts pass the key in the query string
    const created = await worker.api('POST', `/api/sessions?api_key=${API_KEY}`, { session_id: 'p2', workspace_id: 'w1' }, {});
    expect(created.status).toBe(201);
    const qr2 = await waitFor(async () => (await worker!.api('GET', `/api/sessions/p2?api_key=${API_KEY}`, undefined, {})).json.qr, 'a QR for p2', 45_000);
    sim.scan(qr2, phones.p2!);
    await waitFor(async () => (await status('p2')) === 'connected', 'p2 connected', 45_000);

    const p1Statuses = receiver.received
      .filter((r) => r.event.event === 'session.status' && r.event.session_id === 'p1')
      .map((r) => (r.event.payload as { status: string }).status);
    expect(p1Statuses).toEqual(['initializing', 'qr_scanning', 'authenticated', 'connected']);
    expect(receiver.received.find((r) => r.event.event === 'session.qr' && r.event.session_id === 'p1')?.event.payload).toEqual({ qr });
  });

  step('2. keeps a second worker off its sessions folder: exit 1 naming the folder and the holder, nothing touched', async () => {
    const before = browserProcesses(sessionsDir).sort();
    let code: number | null = null;
    let stderr = '';
    try {
      execFileSync(process.execPath, [WORKER_BIN], { env: { PATH: process.env.PATH, ...env(), PORT: '0', WHATSAPP_NODE_API_KEY: `${API_KEY}-second` }, stdio: 'pipe' });
    } catch (error) {
      code = (error as { status: number }).status;
      stderr = String((error as { stderr: Buffer }).stderr);
    }
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([
      `wa-worker: another worker (pid ${worker!.child.pid}) already uses the sessions folder ${sessionsDir}: stop it first, or give this one a WHATSAPP_SESSIONS_DIR of its own`,
    ]);
    expect(browserProcesses(sessionsDir).sort()).toEqual(before);
    for (const pid of before) expect(readStat(pid)?.state).not.toBe('Z');
    expect([await status('p1'), await status('p2')]).toEqual(['connected', 'connected']);
  });

  step("3. keeps the worker's secrets out of every Chromium's environment", async () => {
    const pids = processesMentioning(sessionsDir);
    const browsers = browserProcesses(sessionsDir);
    expect(browsers).toHaveLength(2);
    for (const pid of pids) {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      expect(environ).not.toContain(API_KEY);
      expect(environ).not.toContain('process-webhook-secret');
      expect(environ).not.toContain('WHATSAPP_');
    }
    // The browser process itself shows its environment as it got it (its helpers rewrite theirs).
    for (const pid of browsers) expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain(`PATH=${browser.env.PATH ?? process.env.PATH}`);
  });

  step('4. keeps session folders, manifests and logs private to its user', async () => {
    const mode = async (file: string) => (await fs.stat(file)).mode & 0o777;
    expect(await mode(sessionsDir)).toBe(0o700);
    expect(await mode(path.join(sessionsDir, 'w1'))).toBe(0o700);
    expect(await mode(path.join(sessionsDir, 'w1', 'p1'))).toBe(0o700);
    expect(await mode(path.join(sessionsDir, 'w1', 'p1', 'session.json'))).toBe(0o600);
    expect(await mode(profile('p1'))).toBe(0o700);
    expect((await mode(path.join(logDir, 'whatsapp-service.log'))) & 0o037).toBe(0);
    expect(await mode(logDir)).toBe(0o700);
  });

  step('5. forwards an incoming message to the webhook with a valid signature', async () => {
    const id = sim.sendMessage(phones.p2!, '628777', 'pesan masuk');
    const got = await waitFor(() => receiver.received.find((r) => r.event.event === 'message' && JSON.stringify(r.event.payload).includes(id)), 'the message', 45_000);
    expect(got.event).toMatchObject({
      session_id: 'p2',
      workspace_id: 'w1',
      timestamp: expect.any(String),
      payload: { body: 'pesan masuk', from: '628777@c.us', to: `${phones.p2}@c.us`, type: 'chat', timestamp: expect.any(Number) },
    });
    expect(got.signature).toBe(sign('process-webhook-secret', got.raw));
    // Refused once, retried with the same id in the body and in X-Webhook-Id.
    expect(receiver.attempts.filter((a) => a.id === got.event.id)).toEqual([
      { id: got.event.id, webhookId: got.event.id, status: 503 },
      { id: got.event.id, webhookId: got.event.id, status: 200 },
    ]);
    expect(new Set(receiver.received.map((r) => r.event.id)).size).toBe(receiver.received.length);
  });

  step('6. after a SIGKILL, a new worker restores every session without a QR and leaves no orphan Chromium', async () => {
    worker!.child.kill('SIGKILL');
    await worker!.exited;
    const qrsBefore = receiver.received.filter((r) => r.event.event === 'session.qr').length;

    // Two orphans of an earlier worker, recognised by the marker argument on their command line
    // (with the token the killed worker wrote in the folder's lock file):
    // one has closed its stores (no file lock: its profile is saved), the other hangs with a store
    // open (flock holds a lock for it). The real ones close their stores ~50-80 ms after the crash.
    const { token } = JSON.parse(readFileSync(path.join(sessionsDir, LOCK_FILE), 'utf8')) as { token: string };
    const marker = markerArg(sessionsDir, token);
    const spawnOrphan = (command: string, args: string[]) => {
      const child = spawn(command, args, { detached: true, stdio: 'ignore' });
      return { child, gone: new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal))) };
    };
    const saved = spawnOrphan(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', '--', marker]);
    const hung = spawnOrphan('flock', [path.join(dir, 'store.lock'), process.execPath, '-e', 'setTimeout(() => {}, 60000)', '--', marker]);
    await waitFor(() => readFileSync('/proc/locks', 'utf8').includes(` ${hung.child.pid} `), 'the hung orphan to hold its lock');

    worker = await spawnWorker(env());
    expect(await saved.gone).toBe('SIGKILL'); // killed at once: nothing left to save
    expect(hung.child.exitCode).toBeNull();
    expect(hung.child.signalCode).toBeNull();
    expect(schedulingNice(hung.child.pid!)).toBe(19); // yields the CPU meanwhile
    expect((await worker.api('GET', '/health', undefined, {})).status).toBe(200);
    expect(await hung.gone).toBe('SIGKILL'); // killed once its grace is over
    for (const id of ['p1', 'p2']) await waitFor(async () => (await status(id)) === 'connected', `${id} restored`, 30_000);
    expect(receiver.received.filter((r) => r.event.event === 'session.qr').length).toBe(qrsBefore);
    expect((await worker.api('GET', '/api/sessions')).json.sessions.map((s: { phone_number: string }) => s.phone_number).sort()).toEqual([
      phones.p1,
      phones.p2,
    ]);
    // exactly one browser per profile: the old worker's Chromium is gone
    await waitFor(() => browserProcesses(profile('p1')).length === 1 && browserProcesses(profile('p2')).length === 1, 'one browser per profile', 10_000);
  });

  step('7. finds a wedged page with its periodic probe and heals it', async () => {
    sim.hang(phones.p1!);
    await sim.waitForPage({ phone: phones.p1!, hung: true });
    await waitFor(async () => (await status('p1')) !== 'connected', 'the probe to notice', 45_000);
    await waitFor(async () => (await status('p1')) === 'connected', 'p1 healed', 45_000);
    expect(browserProcesses(profile('p1'))).toHaveLength(1);
  });

  step('8. reconnects by itself after a CONFLICT and is connected again without a QR', async () => {
    const qrsBefore = receiver.received.filter((r) => r.event.event === 'session.qr').length;
    sim.setState(phones.p2!, 'CONFLICT');
    await waitFor(async () => (await status('p2')) === 'reconnecting', 'p2 reconnecting', 45_000);
    await waitFor(async () => (await status('p2')) === 'connected', 'p2 connected again', 45_000);
    expect((await worker!.api('GET', '/api/sessions/p2')).json).toMatchObject({ reason: null, reconnect_attempts: 0, phone_number: phones.p2 });
    expect(receiver.received.filter((r) => r.event.event === 'session.qr').length).toBe(qrsBefore);
    const reasons = receiver.received
      .filter((r) => r.event.event === 'session.status' && r.event.session_id === 'p2')
      .map((r) => r.event.payload as { status: string; reason: string | null });
    expect(reasons).toContainEqual(expect.objectContaining({ status: 'reconnecting', reason: 'CONFLICT' }));
  });

  step('9. exits 0 on SIGTERM with no Chromium left, and starts again despite a stale lock from another host', async () => {
    worker!.child.kill('SIGTERM');
    expect(await worker!.exited).toBe(0);
    expect(processesMentioning(sessionsDir)).toEqual([]);

    await fs.symlink('another-host-31337', path.join(profile('p1'), 'SingletonLock'));
    worker = await spawnWorker(env());
    await waitFor(async () => (await status('p1')) === 'connected', 'p1 restored despite the stale lock', 45_000);
    await waitFor(async () => (await status('p2')) === 'connected', 'p2 restored', 45_000);
  });

  step('10. goes to qr_scanning with a fresh QR when the phone logs out, without reconnecting', async () => {
    const clientsBefore = browserProcesses(profile('p2'));
    sim.logout(phones.p2!);
    const session = await waitFor(async () => {
      const s = (await worker!.api('GET', '/api/sessions/p2')).json;
      return s.status === 'qr_scanning' && s.qr ? s : undefined;
    }, 'a fresh QR', 45_000);
    expect(session).toMatchObject({ reason: 'LOGOUT', phone_number: null, reconnect_attempts: 0 });
    expect(browserProcesses(profile('p2'))).toEqual(clientsBefore);
  });

  step('11. is failed once its reconnect attempts are exhausted (WhatsApp Web unreachable), with no Chromium left on it', async () => {
    await sim.stop();
    const [browser] = browserProcesses(profile('p1'));
    process.kill(-browser!, 'SIGKILL');
    await waitFor(async () => (await status('p1')) === 'failed', 'p1 failed', 60_000);
    expect((await worker!.api('GET', '/api/sessions/p1')).json).toMatchObject({ reason: 'LAUNCH_FAILED', reconnect_attempts: 3 });
    await waitFor(() => processesMentioning(profile('p1')).length === 0, 'no Chromium on p1', 10_000);
  });

  step('12. stops on SIGINT too, and never writes the API key to its log file', async () => {
    worker!.child.kill('SIGINT');
    expect(await worker!.exited).toBe(0);
    const logs = await fs.readFile(path.join(logDir, 'whatsapp-service.log'), 'utf8');
    expect(logs).toContain('Creating WhatsApp session');
    expect(logs).toContain('Session restored: p1');
    expect(logs).toContain('/api/sessions');
    expect(logs).not.toContain(API_KEY);
    expect(worker!.output()).not.toContain(API_KEY);
    expect(processesMentioning(sessionsDir)).toEqual([]);
  });
});

/**
 * The niceness the scheduler applies to a process: its session's autogroup where the kernel has
 * autogroups (what the worker lowers then), else the process's own.
 */
function schedulingNice(pid: number): number {
  try {
    return Number(/nice (-?\d+)/.exec(readFileSync(`/proc/${pid}/autogroup`, 'utf8'))![1]);
  } catch {
    return readStat(pid)!.nice;
  }
}
