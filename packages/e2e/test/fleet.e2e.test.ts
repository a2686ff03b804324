import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  browsersUnderTest,
  createTestDatabase,
  killProcessesMentioning,
  processesMentioning,
  runCli,
  simulatedWorkerEnv,
  startCli,
  startSimulator,
  startWebhookReceiver,
  startWorker,
  tempDir,
  type RunningProcess,
  type Simulator,
  type TestDatabase,
  type WebhookReceiver,
  type WorkerProcess,
} from '@wa-session-sync/test-support';
import { cleanupDir, PG_ADMIN_URL, SCENARIO_WAIT, waitFor, waitForMessage, waitForStatus } from './harness';

// The fleet as operators run it: three built workers (WHATSAPP_AUTH_STORE=postgres, their own
// folders), one Postgres, the built wa-sync placing sessions across them, whatsapp-web.js in real
// Chromium against the simulator. Sessions spread, a lost machine's sessions come back on the
// others without a QR, a worker is drained and reopened, and no number is ever logged in twice.
jest.setTimeout(420_000);

const LEASE_TTL_SECONDS = 6;
const WATCH_SECONDS = 2;
const IDS = ['worker-a', 'worker-b', 'worker-c'] as const;
type WorkerId = (typeof IDS)[number];

let dir: string;
let db: TestDatabase;
let sim: Simulator;
let receiver: WebhookReceiver;
const apiKey = `e2e-fleet-key-${randomBytes(12).toString('hex')}`;
const workers = new Map<WorkerId, WorkerProcess>();
/** Measured on the way, printed at the end (the closing note and BENCHMARKS.md take them from here). */
const measured: Record<string, number> = {};

const phoneOf = (sessionId: string) => `62811000${sessionId.replace(/\D/g, '').padStart(5, '0')}`;

function startFleetWorker(id: WorkerId): Promise<WorkerProcess> {
  return startWorker({
    apiKey,
    env: {
      ...simulatedWorkerEnv(sim, { sessionsDir: path.join(dir, id, 'sessions'), logDir: path.join(dir, id, 'logs') }),
      ...browsersUnderTest()[0]!.env,
      ...receiver.workerEnv(),
      WHATSAPP_WORKER_ID: id,
      WHATSAPP_AUTH_STORE: 'postgres',
      DATABASE_URL: db.url,
      WHATSAPP_LEASE_TTL_SECONDS: String(LEASE_TTL_SECONDS),
      WHATSAPP_MAX_SESSIONS: '10',
    },
  });
}

function fleetEnv(): Record<string, string> {
  return {
    NO_COLOR: '1',
    DATABASE_URL: db.url,
    WHATSAPP_NODE_SERVICE_URLS: IDS.map((id) => workers.get(id)?.url ?? `http://127.0.0.1:9/${id}`).join(','),
    WHATSAPP_NODE_API_KEY: apiKey,
    WA_SYNC_AUDIT_LOG: path.join(dir, 'audit.log'),
    WA_SYNC_REQUEST_TIMEOUT_MS: '3000',
  };
}

const wasync = (...args: string[]) => runCli(args, fleetEnv());

async function sync(): Promise<void> {
  const run = await wasync('sync-sessions', '--auto-reconnect');
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
}

async function rows(): Promise<Record<string, { worker_id: string | null; status: string }>> {
  const found = await db.query<{ session_id: string; worker_id: string | null; status: string }>(
    'SELECT session_id, worker_id, status FROM whatsapp_accounts WHERE is_active ORDER BY session_id',
  );
  return Object.fromEntries(found.map((row) => [row.session_id, { worker_id: row.worker_id, status: row.status }]));
}

/** Which sessions each live worker runs (holding a browser). */
async function placement(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [id, worker] of workers) {
    if (worker.child.exitCode !== null || worker.child.signalCode !== null) continue;
    out[id] = (await worker.sessions())
      .filter((s) => s.status !== 'disconnected' && s.status !== 'failed')
      .map((s) => s.session_id)
      .sort();
  }
  return out;
}

/** Scans the QR of every session of `ids` wherever the sync started it, and waits for each to be connected there. */
async function pairWherePlaced(ids: string[]): Promise<void> {
  for (const sessionId of ids) {
    const { worker_id } = (await rows())[sessionId]!;
    const worker = workers.get(worker_id as WorkerId)!;
    const qr = await waitFor(async () => (await worker.session(sessionId))?.qr, `a QR for ${sessionId} on ${worker_id}`, SCENARIO_WAIT);
    await sim.scanWhenShown(qr, phoneOf(sessionId));
  }
  for (const sessionId of ids) await waitForStatus(workers.get((await rows())[sessionId]!.worker_id as WorkerId)!, sessionId, 'connected');
}

beforeAll(async () => {
  dir = await tempDir('wa-e2e-fleet-');
  sim = await startSimulator();
  receiver = await startWebhookReceiver();
  db = await createTestDatabase({ prefix: 'wa_e2e_fleet', adminUrl: PG_ADMIN_URL });
  const migrated = await runCli(['migrate'], { DATABASE_URL: db.url });
  if (migrated.code !== 0) throw new Error(`wa-sync migrate failed: ${migrated.stderr}`);
  for (const id of IDS) workers.set(id, await startFleetWorker(id));
});

afterAll(async () => {
  for (const worker of workers.values()) {
    if (worker.child.exitCode === null && worker.child.signalCode === null) await worker.kill('SIGTERM');
  }
  await waitFor(() => processesMentioning(dir).length === 0, 'Chromium to exit', 15_000).catch(() => undefined);
  const left = killProcessesMentioning(dir);
  await sim?.stop();
  await receiver?.close();
  await db?.drop();
  cleanupDir(dir);
  // eslint-disable-next-line no-console
  console.log(`fleet measurements (ms): ${JSON.stringify(measured)}`);
  expect(left).toEqual([]);
});

afterEach(() => {
  // Never one number logged in on two workers at once.
  expect(sim.doubleLogins()).toEqual([]);
});

describe('a fleet of three workers placed by wa-sync', () => {
  const nine = Array.from({ length: 9 }, (_, i) => `f${i + 1}`);

  it('1. spreads nine accounts created in the database 3/3/3, and records each worker in its row', async () => {
    for (const sessionId of nine) await db.query('INSERT INTO whatsapp_accounts (workspace_id, session_id) VALUES ($1, $2)', ['w1', sessionId]);
    await sync();
    const placed = await rows();
    const counts = IDS.map((id) => nine.filter((s) => placed[s]!.worker_id === id).length);
    expect(counts).toEqual([3, 3, 3]);
    await pairWherePlaced(nine);
    await sync();
    expect(Object.values(await rows()).every((row) => row.status === 'connected')).toBe(true);
    const running = await placement();
    for (const id of IDS) expect(running[id]).toEqual(nine.filter((s) => placed[s]!.worker_id === id).sort());
  });

  it('2. puts a new account on the least-loaded worker', async () => {
    // worker-c gives one up (its account switched off, its session stopped): it is the least loaded.
    const onC = Object.entries(await rows()).find(([, row]) => row.worker_id === 'worker-c')![0];
    await db.query('UPDATE whatsapp_accounts SET is_active = false WHERE session_id = $1', [onC]);
    expect((await workers.get('worker-c')!.api('DELETE', `/api/sessions/${onC}`)).status).toBe(200);
    await db.query('INSERT INTO whatsapp_accounts (workspace_id, session_id) VALUES ($1, $2)', ['w1', 'f10']);
    await sync();
    expect((await rows()).f10!.worker_id).toBe('worker-c');
    await pairWherePlaced(['f10']);
  });

  it('3. a machine lost: its sessions are connected on the other two without a QR, their messages reach the webhook, the rows name the new workers', async () => {
    const lostSessions = Object.entries(await rows())
      .filter(([, row]) => row.worker_id === 'worker-a')
      .map(([id]) => id);
    expect(lostSessions).toHaveLength(3);
    // Every login saved under its current lease before the machine goes.
    await waitFor(
      async () =>
        (
          await db.query(
            `SELECT count(*)::int AS n FROM whatsapp_session_auth a JOIN whatsapp_session_leases l USING (session_id)
             WHERE a.fencing_token = l.token AND l.worker_id = 'worker-a'`,
          )
        )[0].n === 3,
      "worker-a's logins saved",
      SCENARIO_WAIT,
    );
    const controller: RunningProcess = startCli(['sync-sessions', '--auto-reconnect', `--watch=${WATCH_SECONDS}`], fleetEnv());
    try {
      const lostAt = performance.now();
      const a = workers.get('worker-a')!;
      a.child.kill('SIGKILL');
      await a.exited;
      await waitFor(() => processesMentioning(path.join(dir, 'worker-a')).length === 0, "worker-a's Chromium gone with it", 15_000);
      await fs.rm(path.join(dir, 'worker-a'), { recursive: true, force: true });

      await waitFor(
        async () => {
          const now = await rows();
          return lostSessions.every((s) => now[s]!.worker_id !== 'worker-a' && now[s]!.worker_id !== null && now[s]!.status === 'connected');
        },
        "worker-a's sessions connected elsewhere",
        { timeoutMs: 90_000, intervalMs: 200 },
      );
      measured.machineLostToConnected = Math.round(performance.now() - lostAt);
      const now = await rows();
      for (const sessionId of lostSessions) {
        const worker = workers.get(now[sessionId]!.worker_id as WorkerId)!;
        expect((await worker.session(sessionId))?.status).toBe('connected');
      }
      // Nobody scanned anything: the simulator saw no new pairing. Messages flow on the new workers.
      for (const sessionId of lostSessions) {
        const body = `after the loss of worker-a: ${sessionId}`;
        sim.sendMessage(phoneOf(sessionId), '6281100000999', body);
        await waitForMessage(receiver, sessionId, body);
      }
    } finally {
      controller.child.kill('SIGTERM');
      expect(await controller.exited).toBe(0);
    }
    workers.delete('worker-a');
  });

  it('4. drains worker-b: every session moved, none lost, nothing new lands on it; undrain reopens it', async () => {
    const onB = Object.entries(await rows())
      .filter(([, row]) => row.worker_id === 'worker-b')
      .map(([id]) => id);
    expect(onB.length).toBeGreaterThan(0);
    const drained = await wasync('drain', 'worker-b');
    expect({ code: drained.code, stderr: drained.stderr }).toEqual({ code: 0, stderr: '' });
    const after = await rows();
    for (const sessionId of onB) {
      expect(after[sessionId]).toEqual({ worker_id: 'worker-c', status: 'connected' });
      expect((await workers.get('worker-c')!.session(sessionId))?.status).toBe('connected');
    }
    expect((await placement())['worker-b']).toEqual([]);

    // Draining: a new account goes to worker-c though worker-b is empty.
    await db.query('INSERT INTO whatsapp_accounts (workspace_id, session_id) VALUES ($1, $2)', ['w1', 'f11']);
    await sync();
    expect((await rows()).f11!.worker_id).toBe('worker-c');

    const undrained = await wasync('undrain', 'worker-b');
    expect(undrained.code).toBe(0);
    await db.query('INSERT INTO whatsapp_accounts (workspace_id, session_id) VALUES ($1, $2)', ['w1', 'f12']);
    await sync();
    expect((await rows()).f12!.worker_id).toBe('worker-b');
    await pairWherePlaced(['f11', 'f12']);
  });
});
