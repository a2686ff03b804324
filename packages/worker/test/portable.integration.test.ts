import fs from 'node:fs/promises';
import path from 'node:path';
import knexFactory from 'knex';
import { migrateToLatest } from '@wa-session-sync/shared/dist/db/migrations';
import {
  browsersUnderTest,
  createTestDatabase,
  processesMentioning,
  simulatedWorkerEnv,
  startSimulator,
  startTcpProxy,
  startWorker,
  tempDir,
  waitFor,
  type Simulator,
  type TcpProxy,
  type TestDatabase,
  type WorkerProcess,
} from '@wa-session-sync/test-support';

// Portable sessions as operators run them (WHATSAPP_AUTH_STORE=postgres): built workers as
// processes, each with its own folder and its own way to Postgres through a proxy the test can
// cut, whatsapp-web.js in real Chromium against the simulator. A session moves between workers
// without a QR (a planned move, a worker killed, a machine lost, a worker cut off from the
// database) and the simulator never sees one number logged in twice.
jest.setTimeout(300_000);

const API_KEY = 'portable-test-key-7c41e9a2';
const PHONE = '6281100000901';
/** Short leases for the failovers: the takeover waits for one to lapse. The first steps run on the default (30 s). */
const SHORT_TTL = '6';

interface Node {
  id: string;
  dir: string;
  proxy: TcpProxy;
  worker: WorkerProcess | null;
}

let db: TestDatabase;
let sim: Simulator;
let root: string;
const nodes = new Map<string, Node>();
/** Failover times measured on the way (printed at the end, for the closing note and BENCHMARKS.md). */
const measured: Record<string, number> = {};

async function addNode(id: string): Promise<Node> {
  const pg = new URL(db.url);
  const node: Node = { id, dir: path.join(root, id), proxy: await startTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) }), worker: null };
  nodes.set(id, node);
  return node;
}

async function startOn(node: Node, env: Record<string, string> = {}): Promise<WorkerProcess> {
  node.worker = await startWorker({
    apiKey: API_KEY,
    env: {
      ...simulatedWorkerEnv(sim, { sessionsDir: path.join(node.dir, 'sessions'), logDir: path.join(node.dir, 'logs') }),
      ...browsersUnderTest()[0]!.env,
      WHATSAPP_WORKER_ID: node.id,
      WHATSAPP_AUTH_STORE: 'postgres',
      DATABASE_URL: node.proxy.urlThrough(db.url),
      ...env,
    },
  });
  return node.worker;
}

async function kill(node: Node): Promise<void> {
  const worker = node.worker;
  if (!worker || worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.child.kill('SIGKILL');
  await worker.exited;
}

async function stop(node: Node): Promise<void> {
  const worker = node.worker;
  if (!worker || worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.child.kill('SIGTERM');
  await worker.exited;
}

const status = async (worker: WorkerProcess, id: string) => (await worker.session(id))?.status;

async function lease(sessionId: string): Promise<{ worker_id: string; token: string; live: boolean } | undefined> {
  const [row] = await db.query(`select worker_id, token::text as token, expires_at > now() as live from whatsapp_session_leases where session_id = $1`, [sessionId]);
  return row;
}

async function savedLogin(sessionId: string): Promise<{ saved_by: string; fencing_token: string; size_bytes: number; saved_at: Date } | undefined> {
  const [row] = await db.query(
    `select saved_by, fencing_token::text as fencing_token, size_bytes, saved_at from whatsapp_session_auth where session_id = $1`,
    [sessionId],
  );
  return row;
}

/** Starts `sessionId` on `worker` as the sync would, again and again while another worker's lease refuses it; the time it took. */
async function startWhenFree(worker: WorkerProcess, sessionId: string, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      const answer = await worker.api('POST', '/api/sessions', { session_id: sessionId, workspace_id: 'w1' });
      if (answer.status === 409) expect(answer.json.error.code).toBe('session_leased_elsewhere');
      return answer.status === 201 || answer.status === 200;
    },
    `${sessionId} started`,
    { timeoutMs, intervalMs: 250 },
  );
}

/** Connected, having never needed a QR: nobody scans in these steps, so a session that needed one would never connect. */
async function connectsWithoutQr(worker: WorkerProcess, sessionId: string): Promise<void> {
  await waitFor(async () => (await status(worker, sessionId)) === 'connected', `${sessionId} connected without a QR`, 60_000);
}

beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'wa_portable' });
  const knex = knexFactory({ client: 'pg', connection: db.url });
  try {
    await migrateToLatest(knex);
  } finally {
    await knex.destroy();
  }
  sim = await startSimulator({ quiet: true });
  root = await tempDir('wa-portable-');
  for (const id of ['worker-a', 'worker-b', 'worker-c']) await addNode(id);
});

afterAll(async () => {
  for (const node of nodes.values()) {
    await kill(node);
    node.proxy.heal();
    await node.proxy.close();
  }
  await waitFor(() => processesMentioning(root).length === 0, 'Chromium to exit', 10_000).catch(() => undefined);
  const left = processesMentioning(root);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  await sim?.stop();
  await db?.drop();
  await fs.rm(root, { recursive: true, force: true });
  // eslint-disable-next-line no-console
  console.log(`portable failover times (ms): ${JSON.stringify(measured)}`);
  expect(left).toEqual([]);
});

afterEach(() => {
  // Every step: never one number logged in on two pages at once.
  expect(sim.doubleLogins()).toEqual([]);
});

describe('portable sessions across workers (WHATSAPP_AUTH_STORE=postgres)', () => {
  const a = () => nodes.get('worker-a')!;
  const b = () => nodes.get('worker-b')!;
  const c = () => nodes.get('worker-c')!;

  it('1. a session paired on A is saved to the database once connected, under A\'s lease (default lease life)', async () => {
    const workerA = await startOn(a());
    await startOn(b());
    expect((await workerA.health()).worker_id).toBe('worker-a');
    expect((await workerA.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' })).status).toBe(201);
    await waitFor(async () => (await workerA.session('s1'))?.qr != null, 's1 showing a QR', 60_000);
    await sim.scanWhenShown((await workerA.session('s1'))!.qr!, PHONE);
    await waitFor(async () => (await status(workerA, 's1')) === 'connected', 's1 connected on A', 60_000);
    expect((await workerA.session('s1'))!.worker_id).toBe('worker-a');
    expect(await lease('s1')).toMatchObject({ worker_id: 'worker-a', live: true });
    await waitFor(async () => (await savedLogin('s1'))?.saved_by === 'worker-a', 's1 login saved by A', 30_000);
    const saved = (await savedLogin('s1'))!;
    expect(saved.fencing_token).toBe((await lease('s1'))!.token);
    expect(saved.size_bytes).toBeGreaterThan(0);
  });

  it('2. B refuses the session A holds with 409 naming A, and launches nothing', async () => {
    const workerB = b().worker!;
    const answer = await workerB.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    expect(answer).toMatchObject({ status: 409, json: { error: { code: 'session_leased_elsewhere', holder: 'worker-a' } } });
    expect(answer.json.error.message).toContain('worker-a');
    expect(await workerB.session('s1')).toBeUndefined();
    expect(processesMentioning(b().dir)).toEqual([]);
    // The reconnect route, as the sync would call it, is refused the same way.
    const reconnect = await workerB.api('POST', '/api/sessions/s1/reconnect');
    expect([404, 409]).toContain(reconnect.status);
    expect(processesMentioning(b().dir)).toEqual([]);
    expect(await lease('s1')).toMatchObject({ worker_id: 'worker-a', live: true });
  });

  it('3. a planned move: stopped on A (final save, lease let go), started on B, connected at once without a QR', async () => {
    const before = (await savedLogin('s1'))!;
    expect((await a().worker!.api('DELETE', '/api/sessions/s1')).status).toBe(200);
    expect(await lease('s1')).toMatchObject({ worker_id: 'worker-a', live: false });
    const after = (await savedLogin('s1'))!;
    expect(after.saved_at.getTime()).toBeGreaterThanOrEqual(before.saved_at.getTime());
    const started = performance.now();
    expect((await b().worker!.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' })).status).toBe(201);
    await connectsWithoutQr(b().worker!, 's1');
    measured.plannedMove = Math.round(performance.now() - started);
    expect(await lease('s1')).toMatchObject({ worker_id: 'worker-b', live: true });
    expect(BigInt((await lease('s1'))!.token)).toBeGreaterThan(BigInt(after.fencing_token));
  });

  it('4. B killed, its folder kept: A takes the session over once the lease lapses, without a QR; B restarted never runs it', async () => {
    // Both again on short leases (B's SIGTERM saves s1 and lets its lease go; its restore takes it again).
    await stop(a());
    await stop(b());
    const workerB = await startOn(b(), { WHATSAPP_LEASE_TTL_SECONDS: SHORT_TTL });
    await connectsWithoutQr(workerB, 's1');
    const workerA = await startOn(a(), { WHATSAPP_LEASE_TTL_SECONDS: SHORT_TTL });
    await waitFor(async () => (await savedLogin('s1'))?.saved_by === 'worker-b' && (await savedLogin('s1'))!.fencing_token === (await lease('s1'))!.token, 's1 saved by B under its lease', 30_000);

    const killedAt = performance.now();
    await kill(b());
    await startWhenFree(workerA, 's1', 30_000);
    await connectsWithoutQr(workerA, 's1');
    measured.processKilled = Math.round(performance.now() - killedAt);
    expect(await lease('s1')).toMatchObject({ worker_id: 'worker-a', live: true });

    // B comes back on the same folder: its restore finds A holding s1 and leaves it alone.
    const again = await startOn(b(), { WHATSAPP_LEASE_TTL_SECONDS: SHORT_TTL });
    await again.outputMatching(/Restoring saved sessions/, 30_000);
    expect(await again.session('s1')).toBeUndefined();
    expect(processesMentioning(b().dir)).toEqual([]);
    const refused = await again.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    expect(refused).toMatchObject({ status: 409, json: { error: { holder: 'worker-a' } } });
    expect(await status(workerA, 's1')).toBe('connected');
  });

  it('5. a machine lost (A killed, its folder deleted): C, with an empty folder, takes it over from the database alone', async () => {
    const workerC = await startOn(c(), { WHATSAPP_LEASE_TTL_SECONDS: SHORT_TTL });
    await waitFor(async () => (await savedLogin('s1'))?.saved_by === 'worker-a' && (await savedLogin('s1'))!.fencing_token === (await lease('s1'))!.token, 's1 saved by A under its lease', 30_000);
    const lostAt = performance.now();
    await kill(a());
    await waitFor(() => processesMentioning(a().dir).length === 0, "A's Chromium gone with it", 15_000);
    await fs.rm(a().dir, { recursive: true, force: true });
    await startWhenFree(workerC, 's1', 30_000);
    await connectsWithoutQr(workerC, 's1');
    measured.machineLost = Math.round(performance.now() - lostAt);
    expect(await lease('s1')).toMatchObject({ worker_id: 'worker-c', live: true });
    // Messages flow on the new worker.
    sim.sendMessage(PHONE, '6281100000999', 'after the move');
    await waitFor(async () => ((await workerC.session('s1')) as { messages_24h?: number })?.messages_24h === 1, 'a message counted on C', 15_000);
  });

  it("6. C cut off from Postgres: C closes the session's Chromium before its lease lapses, then B takes it over", async () => {
    const workerC = c().worker!;
    const workerB = b().worker!;
    await waitFor(async () => (await savedLogin('s1'))?.saved_by === 'worker-c', 's1 saved by C', 30_000);
    const cutAt = performance.now();
    c().proxy.cut();
    // B's start is refused while C's lease lives; the moment it is taken, C's browser must be gone already.
    await startWhenFree(workerB, 's1', 30_000);
    expect(processesMentioning(path.join(c().dir, 'sessions', 'w1', 's1'))).toEqual([]);
    await connectsWithoutQr(workerB, 's1');
    measured.partition = Math.round(performance.now() - cutAt);
    expect(await workerC.outputMatching(/Session lease lost/, 1000)).toBeTruthy();

    // Healed: C tries to take s1 back, finds B holding it, and leaves it.
    c().proxy.heal();
    await waitFor(async () => (await workerC.session('s1'))?.reason === 'LEASED_ELSEWHERE', 'C giving s1 up to B', 60_000);
    expect(await workerC.session('s1')).toMatchObject({ status: 'disconnected', reason: 'LEASED_ELSEWHERE' });
    expect(processesMentioning(path.join(c().dir, 'sessions', 'w1', 's1'))).toEqual([]);
    expect(await status(workerB, 's1')).toBe('connected');
    expect(await lease('s1')).toMatchObject({ worker_id: 'worker-b', live: true });
  });

  it('7. a logout on the holder deletes the saved login and lets the lease go', async () => {
    const workerB = b().worker!;
    expect((await workerB.api('DELETE', '/api/sessions/s1?logout=true')).status).toBe(200);
    expect(await savedLogin('s1')).toBeUndefined();
    expect(await lease('s1')).toMatchObject({ live: false });
  });
});

describe('the control: the same saved login on two workers without leases', () => {
  it('is seen by the simulator as exactly one double login (so an empty list above means something)', async () => {
    // A simulator of its own: the steps above assert theirs saw none.
    const control = await startSimulator({ quiet: true });
    const dir = path.join(root, 'control');
    const workerEnv = (name: string) => ({
      ...simulatedWorkerEnv(control, { sessionsDir: path.join(dir, name, 'sessions'), logDir: path.join(dir, name, 'logs') }),
      ...browsersUnderTest()[0]!.env,
      WHATSAPP_WORKER_ID: name,
      // Leases bypassed: each worker's profile is its login, as with WHATSAPP_AUTH_STORE=local.
      WHATSAPP_AUTH_STORE: 'local',
      // One double login, not a ping-pong of relaunches after the CONFLICT.
      WHATSAPP_WEBJS_AUTO_RECONNECT: 'false',
    });
    const started: WorkerProcess[] = [];
    try {
      const d = await startWorker({ apiKey: API_KEY, env: workerEnv('worker-d') });
      started.push(d);
      expect((await d.api('POST', '/api/sessions', { session_id: 's9', workspace_id: 'w1' })).status).toBe(201);
      await waitFor(async () => (await d.session('s9'))?.qr != null, 's9 showing a QR', 60_000);
      await control.scanWhenShown((await d.session('s9'))!.qr!, '6281100000909');
      await waitFor(async () => (await status(d, 's9')) === 'connected', 's9 connected on D', 60_000);
      // A graceful stop keeps the session saved as running, its profile closed and complete.
      d.child.kill('SIGTERM');
      await d.exited;
      await fs.cp(path.join(dir, 'worker-d', 'sessions', 'w1', 's9'), path.join(dir, 'worker-e', 'sessions', 'w1', 's9'), { recursive: true });
      expect(control.doubleLogins()).toEqual([]);

      // Both restore the same login.
      const [d2, e] = await Promise.all([startWorker({ apiKey: API_KEY, env: workerEnv('worker-d') }), startWorker({ apiKey: API_KEY, env: workerEnv('worker-e') })]);
      started.push(d2, e);
      await waitFor(() => control.doubleLogins().length > 0, 'the simulator to see the double login', 60_000);
      // The older page was sent CONFLICT and, without auto-reconnect, stays down: one, not more.
      await waitFor(
        async () => [await status(d2, 's9'), await status(e, 's9')].filter((s) => s === 'connected').length === 1,
        'one of the two left connected',
        30_000,
      );
      expect(control.doubleLogins()).toEqual([expect.objectContaining({ phone: '6281100000909' })]);
    } finally {
      for (const worker of started) {
        if (worker.child.exitCode === null && worker.child.signalCode === null) {
          worker.child.kill('SIGKILL');
          await worker.exited;
        }
      }
      await waitFor(() => processesMentioning(dir).length === 0, 'Chromium of the control to exit', 10_000).catch(() => undefined);
      await control.stop();
    }
  });
});
