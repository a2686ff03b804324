import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MESSAGE_BODY_MAX_BYTES, type MessagePayload, type SessionStatusPayload } from '@wa-session-sync/shared';
import { simulatedWorkerEnv, startSimulator, startWebhookReceiver, type Simulator, type WebhookReceiver } from '@wa-session-sync/test-support';
import { API_KEY, endProcessSuite, spawnWorker, tempDir, waitFor, WORKER_BIN, type WorkerProcess } from './helpers';

// The built worker as a process, real Chromium on the simulator, a real receiver: what the webhook
// backlog holds when the receiver is slow, and what a plain-http webhook URL does at start.
jest.setTimeout(120_000);

describe('wa-worker webhook URL over plain http', () => {
  it('exits 2 at start, naming only the host, when it goes to a host other than loopback, having made nothing', async () => {
    const dir = await tempDir('refuse-http');
    let outcome: { status: number | null; stderr: string };
    try {
      execFileSync(process.execPath, [WORKER_BIN], {
        cwd: dir,
        env: {
          PATH: process.env.PATH,
          PORT: '0',
          WHATSAPP_NODE_API_KEY: API_KEY,
          WHATSAPP_WEBHOOK_URL: 'http://hooks.example.com/wa?token=tok-0123456789',
          WHATSAPP_WEBHOOK_SECRET: 'http-refusal-secret-01',
        },
        stdio: 'pipe',
        timeout: 15_000,
      });
      outcome = { status: 0, stderr: '' };
    } catch (error) {
      outcome = { status: (error as { status: number | null }).status, stderr: String((error as { stderr: Buffer }).stderr) };
    }
    try {
      expect(outcome).toEqual({
        status: 2,
        stderr:
          'wa-worker: WHATSAPP_WEBHOOK_URL: plain http:// to hooks.example.com is refused (session.qr events carry the pairing secret): use https://, or set WHATSAPP_WEBHOOK_ALLOW_HTTP=true on a network you trust\n',
      });
      expect(await fs.readdir(dir)).toEqual([]); // no sessions or logs folder
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('starts with it when WHATSAPP_WEBHOOK_ALLOW_HTTP=true', async () => {
    const dir = await tempDir('allow-http');
    const worker = await spawnWorker({
      WHATSAPP_WEBHOOK_URL: 'http://hooks.example.com/wa',
      WHATSAPP_WEBHOOK_SECRET: 'http-refusal-secret-01',
      WHATSAPP_WEBHOOK_ALLOW_HTTP: 'true',
      WHATSAPP_SESSIONS_DIR: path.join(dir, 'sessions'),
      LOG_DIR: path.join(dir, 'logs'),
    });
    try {
      expect((await worker.health()).status).toBe('ok');
    } finally {
      expect(await worker.kill('SIGTERM')).toBe(0);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('wa-worker webhook backlog with a slow receiver', () => {
  const phone = '6281100000031';
  let sim: Simulator;
  let receiver: WebhookReceiver;
  let dir: string;
  let logDir: string;
  let worker: WorkerProcess | undefined;
  /** While set, the receiver holds back its answer to every delivery. */
  let hold: { released: Promise<void>; release: () => void } | null = null;
  /** Every event id that reached the receiver, answered yet or not. */
  const arrived: string[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ quiet: true });
    receiver = await startWebhookReceiver({
      answer: async (event) => {
        arrived.push(event.id);
        if (hold) await hold.released;
        return 200;
      },
    });
    dir = await tempDir('backlog');
    logDir = path.join(dir, 'logs');
  });

  afterAll(async () => {
    hold?.release();
    await worker?.kill('SIGTERM');
    expect(await endProcessSuite({ dir, sim, receiver })).toEqual([]);
  });

  const logLines = () =>
    readFileSync(path.join(logDir, 'whatsapp-service.log'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, any>);

  it('cuts long bodies to 4 KiB, holds no more than WHATSAPP_WEBHOOK_MAX_QUEUE_MB, drops messages before statuses and logs the drops once per interval', async () => {
    // 20 KiB: room for four cut messages (~4.3 KB each in their envelope) beside a few statuses.
    const maxQueueBytes = 20 * 1024;
    worker = await spawnWorker({
      ...simulatedWorkerEnv(sim, { sessionsDir: path.join(dir, 'sessions'), logDir }),
      ...receiver.workerEnv(),
      WHATSAPP_WEBHOOK_MAX_QUEUE_MB: String(maxQueueBytes / 1024 / 1024),
      WHATSAPP_WEBHOOK_RETRY_BASE_MS: '50',
      WHATSAPP_WEBJS_AUTO_RECONNECT: 'false',
    });
    expect((await worker.api('POST', '/api/sessions', { session_id: 'b1', workspace_id: 'w1' })).status).toBe(201);
    const qr = await waitFor(async () => (await worker!.session('b1'))?.qr, 'a QR', 45_000);
    sim.scan(qr, phone);
    const statusesDelivered = () =>
      receiver.received.filter((r) => r.event.event === 'session.status').map((r) => (r.event.payload as SessionStatusPayload).status);
    await waitFor(() => statusesDelivered().includes('connected'), 'connected delivered', 45_000);

    // The receiver stalls: a reconnect's statuses queue up behind the first one, held in flight,
    // and the messages after them fill the backlog. Dropping the oldest would drop those statuses.
    let release!: () => void;
    hold = { released: new Promise<void>((resolve) => (release = resolve)), release: () => release() };
    const heldBefore = arrived.length;
    expect((await worker.api('POST', '/api/sessions/b1/reconnect')).status).toBe(202);
    await waitFor(() => arrived.length > heldBefore, 'the first status of the reconnect held by the receiver', 20_000);
    await waitFor(async () => (await worker!.session('b1'))?.status === 'connected', 'b1 connected again', 45_000);

    // Each body is 6,000 bytes in UTF-8 (é is 2): cut to 4 KiB.
    const bodies = Array.from({ length: 12 }, (_, i) => `${String(i).padStart(2, '0')}:${'é'.repeat(2999)}`);
    const ids = bodies.map((body) => sim.sendMessage(phone, '628777', body));
    // A status after the messages, through the same page: by the time it is seen, they all are.
    sim.setState(phone, 'CONFLICT');
    await waitFor(async () => (await worker!.session('b1'))?.status === 'disconnected', 'b1 disconnected (CONFLICT)', 20_000);
    hold.release();
    await waitFor(() => statusesDelivered().at(-1) === 'disconnected', 'disconnected delivered', 30_000);

    // Every status the worker went through reached the receiver, in order: the reconnect's too.
    expect(statusesDelivered()).toEqual(['initializing', 'qr_scanning', 'authenticated', 'connected', 'initializing', 'authenticated', 'connected', 'disconnected']);

    // Messages: only the newest that fit were kept, each cut to 4 KiB on a character boundary.
    const kept = receiver.received.filter((r) => r.event.event === 'message').map((r) => r.event.payload as MessagePayload);
    expect(kept.length).toBeGreaterThanOrEqual(2);
    expect(kept.length).toBeLessThanOrEqual(4);
    const keptIndexes = kept.map((p) => ids.findIndex((id) => p.id.includes(id)));
    expect(keptIndexes).toEqual(Array.from({ length: kept.length }, (_, i) => 12 - kept.length + i));
    for (const [n, payload] of kept.entries()) {
      const original = bodies[keptIndexes[n]!]!;
      expect(payload.truncated).toBe(true);
      expect(Buffer.byteLength(payload.body)).toBe(MESSAGE_BODY_MAX_BYTES - 1); // "NN:" then whole é's
      expect(original.startsWith(payload.body)).toBe(true);
    }

    // Every drop counted: one log line at the first, the rest in at most one line per 10 s interval.
    const dropped = 12 - kept.length;
    const reports = () => logLines().filter((line) => line.message === 'Webhook backlog full, dropping events');
    await waitFor(() => reports().reduce((sum, r) => sum + r.dropped, 0) === dropped, `${dropped} drops reported`, 15_000);
    expect(reports().length).toBeLessThanOrEqual(2);
    for (const report of reports()) expect(report).toMatchObject({ byEvent: { message: report.dropped }, maxQueueBytes });
  });
});
