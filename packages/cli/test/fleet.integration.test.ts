import fs from 'node:fs/promises';
import path from 'node:path';
import {
  API_KEY,
  createTestDatabase,
  runInProcess,
  seedAccounts,
  tempDir,
  WorkerStandIn,
  type TestDatabase,
} from './support';

// The sync over a fleet (WHATSAPP_NODE_SERVICE_URLS): real Postgres, three worker stand-ins that
// behave as workers do with their sessions (a start adds one, a stop removes it), each with its
// own id and cap.

jest.setTimeout(30_000);

let db: TestDatabase;
let dir: string;
let workers: Record<'a' | 'b' | 'c', WorkerStandIn>;
let env: Record<string, string>;

beforeAll(async () => {
  [db, dir] = await Promise.all([createTestDatabase(), tempDir('wa-sync-fleet-')]);
  const [a, b, c] = await Promise.all([
    WorkerStandIn.start({ workerId: 'worker-a', max: 5 }),
    WorkerStandIn.start({ workerId: 'worker-b', max: 5 }),
    WorkerStandIn.start({ workerId: 'worker-c', max: 5 }),
  ]);
  workers = { a, b, c };
  env = {
    DATABASE_URL: db.url,
    WHATSAPP_NODE_SERVICE_URLS: `${a.url}, ${b.url},${c.url}`,
    WHATSAPP_NODE_API_KEY: API_KEY,
    WA_SYNC_AUDIT_LOG: path.join(dir, 'audit.log'),
    WA_SYNC_REQUEST_TIMEOUT_MS: '2000',
  };
  const migrated = await runInProcess(['migrate'], env);
  if (migrated.code !== 0) throw new Error(migrated.stderr);
});

afterAll(async () => {
  await Promise.all([db?.drop(), ...Object.values(workers ?? {}).map((w) => w.close()), fs.rm(dir, { recursive: true, force: true })]);
});

beforeEach(async () => {
  for (const w of Object.values(workers)) {
    w.reset();
    w.down = false;
    w.fleet!.max = 5;
    w.startStatus = 'connected';
  }
  await db.client.query('TRUNCATE whatsapp_workers');
});

const syncJson = async (...args: string[]) => {
  const result = await runInProcess(['sync-sessions', '--json', ...args], env);
  return { ...result, report: JSON.parse(result.stdout.trim().split('\n').pop()!) };
};

async function recordedWorkers(): Promise<Record<string, string | null>> {
  const { rows } = await db.client.query('SELECT session_id, worker_id FROM whatsapp_accounts ORDER BY session_id');
  return Object.fromEntries(rows.map((r: { session_id: string; worker_id: string | null }) => [r.session_id, r.worker_id]));
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describe('sync-sessions over a fleet', () => {
  it('spreads nine sessions 3/3/3, records each row\'s worker, then puts a new one on the least-loaded worker', async () => {
    await seedAccounts(db.client, ids('s', 9).map((session_id) => ({ session_id, status: 'connected' })));
    const first = await syncJson('--auto-reconnect');
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.report.fleet.summary).toMatchObject({ started: 9, moved: 0, waiting: 0 });
    expect(first.report.fleet.requests).toHaveLength(9);
    expect(first.report.fleet.requests.every((r: { result: string }) => r.result === 'done')).toBe(true);
    expect([workers.a, workers.b, workers.c].map((w) => w.sessionIds().length)).toEqual([3, 3, 3]);

    const recorded = await recordedWorkers();
    for (const [name, w] of Object.entries(workers)) {
      for (const id of w.sessionIds()) expect(recorded[id]).toBe(`worker-${name}`);
    }
    expect(first.report.fleet.workers_recorded).toBe(9);

    // Worker b loses one session (stopped by hand); a new account goes where there is most room.
    const gone = workers.b.sessionIds()[0];
    workers.b.report(...workers.b.sessionIds().filter((id) => id !== gone).map((session_id) => ({ session_id })));
    await db.client.query(`UPDATE whatsapp_accounts SET is_active = false WHERE session_id = $1`, [gone]);
    await db.client.query(`INSERT INTO whatsapp_accounts (workspace_id, session_id, status) VALUES ('1', 'new1', 'connected')`);
    const second = await syncJson('--auto-reconnect');
    expect(second).toMatchObject({ code: 0, stderr: '' });
    expect(second.report.fleet.moves).toEqual([{ session_id: 'new1', action: 'start', worker_id: 'worker-b', reason: 'new' }]);
    expect(workers.b.sessionIds()).toContain('new1');
    expect((await recordedWorkers()).new1).toBe('worker-b');
    // Nothing that runs is started again.
    expect(workers.a.posts()).toHaveLength(3);
  });

  it('reports a worker that does not answer and syncs the others (exit 0); its sessions wait, their rows untouched', async () => {
    await seedAccounts(db.client, [
      { session_id: 'on-a', status: 'connected' },
      { session_id: 'on-c', status: 'connected' },
    ]);
    await db.client.query(`UPDATE whatsapp_accounts SET worker_id = 'worker-' || substr(session_id, 4)`);
    await db.client.query(`INSERT INTO whatsapp_workers (worker_id, last_seen_at) VALUES ('worker-a', now()), ('worker-c', now())`);
    workers.a.report({ session_id: 'on-a' });
    workers.c.down = true;
    const before = (await db.client.query(`SELECT status, updated_at FROM whatsapp_accounts WHERE session_id = 'on-c'`)).rows[0];

    const run = await syncJson('--auto-reconnect');
    expect(run.code).toBe(0);
    expect(run.report.fleet.unreachable).toEqual([{ url: workers.c.url, error: expect.stringContaining(workers.c.url) }]);
    const c = run.report.fleet.workers.find((w: { worker_id: string }) => w.worker_id === 'worker-c');
    expect(c).toMatchObject({ verdict: 'unreachable', capacity: null });
    expect(run.report.fleet.moves).toEqual([{ session_id: 'on-c', action: 'wait', worker_id: 'worker-c', reason: 'worker_unreachable' }]);
    expect(run.report.mismatches).toEqual([]);
    expect((await db.client.query(`SELECT status, updated_at FROM whatsapp_accounts WHERE session_id = 'on-c'`)).rows[0]).toEqual(before);
    expect(workers.a.posts().concat(workers.b.posts())).toEqual([]);
    const { rows } = await db.client.query(`SELECT worker_id, unreachable_runs FROM whatsapp_workers ORDER BY worker_id`);
    expect(rows).toEqual([
      { worker_id: 'worker-a', unreachable_runs: 0 },
      { worker_id: 'worker-b', unreachable_runs: 0 },
      { worker_id: 'worker-c', unreachable_runs: 1 },
    ]);

    // The second silent run makes it dead: its session is started on the worker with the most room.
    const second = await syncJson('--auto-reconnect');
    expect(second.code).toBe(0);
    expect(second.report.fleet.moves).toEqual([{ session_id: 'on-c', action: 'move', from: 'worker-c', worker_id: 'worker-b', reason: 'worker_dead' }]);
    expect(workers.b.sessionIds()).toEqual(['on-c']);
    expect((await recordedWorkers())['on-c']).toBe('worker-b');
  });

  it('with every worker down: reports each, sends and writes nothing, exit 1', async () => {
    await seedAccounts(db.client, [{ session_id: 's1', status: 'connected' }]);
    for (const w of Object.values(workers)) w.down = true;
    const before = (await db.client.query('SELECT status, updated_at, worker_id FROM whatsapp_accounts')).rows;
    const run = await runInProcess(['sync-sessions', '--json', '--auto-reconnect'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^wa-sync: no worker of the fleet answered .*\[FLEET_DOWN\]\n$/);
    const json = JSON.parse(run.stdout);
    expect(json).toMatchObject({ ok: false, error: { code: 'FLEET_DOWN' }, fleet: { all_down: true } });
    expect(json.fleet.unreachable.map((u: { url: string }) => u.url).sort()).toEqual([workers.a.url, workers.b.url, workers.c.url].sort());
    expect((await db.client.query('SELECT status, updated_at, worker_id FROM whatsapp_accounts')).rows).toEqual(before);
    expect((await db.client.query('SELECT * FROM whatsapp_workers')).rows).toEqual([]);
  });

  it('waits, without counting an attempt, while the old worker\'s lease lives (409 session_leased_elsewhere)', async () => {
    await seedAccounts(db.client, [{ session_id: 'leased', status: 'connected' }]);
    workers.a.answer('leased', { status: 409, body: { error: { code: 'session_leased_elsewhere', message: 'held by worker-z' } } });
    workers.b.answer('leased', { status: 409, body: { error: { code: 'session_leased_elsewhere', message: 'held by worker-z' } } });
    workers.c.answer('leased', { status: 409, body: { error: { code: 'session_leased_elsewhere', message: 'held by worker-z' } } });
    const run = await syncJson('--auto-reconnect');
    expect(run.code).toBe(0);
    expect(run.report.fleet.requests).toEqual([{ session_id: 'leased', action: 'start', worker_id: 'worker-a', result: 'lease_wait' }]);
    const { rows } = await db.client.query(`SELECT worker_id, metadata FROM whatsapp_accounts WHERE session_id = 'leased'`);
    expect(rows[0].worker_id).toBeNull();
    expect(rows[0].metadata.reconnect_attempts).toBeUndefined();
  });
});

describe('wa-sync drain / undrain', () => {
  const placeOn = async (placement: Record<'a' | 'b' | 'c', string[]>) => {
    const all = Object.values(placement).flat();
    await seedAccounts(db.client, all.map((session_id) => ({ session_id, status: 'connected' })));
    for (const [name, sessions] of Object.entries(placement)) {
      workers[name as 'a'].report(...sessions.map((session_id) => ({ session_id })));
      if (sessions.length > 0) await db.client.query(`UPDATE whatsapp_accounts SET worker_id = $1 WHERE session_id = ANY($2)`, [`worker-${name}`, sessions]);
    }
  };
  const draining = async () =>
    Object.fromEntries((await db.client.query('SELECT worker_id, draining FROM whatsapp_workers')).rows.map((r: { worker_id: string; draining: boolean }) => [r.worker_id, r.draining]));

  it('moves every session off the worker, one at a time, to where there is room; nothing new lands there; undrain reopens it', async () => {
    await placeOn({ a: ['s1', 's2', 's3'], b: ['s4'], c: ['s5', 's6'] });
    const drained = await runInProcess(['drain', 'worker-a', '--json'], env);
    expect(drained).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(drained.stdout)).toEqual({
      ok: true,
      worker_id: 'worker-a',
      drained: true,
      moved: [
        { session_id: 's1', from: 'worker-a', to: 'worker-b', seconds: expect.any(Number) },
        { session_id: 's2', from: 'worker-a', to: 'worker-b', seconds: expect.any(Number) },
        { session_id: 's3', from: 'worker-a', to: 'worker-c', seconds: expect.any(Number) },
      ],
    });
    expect(workers.a.sessionIds()).toEqual([]);
    expect(workers.b.sessionIds()).toEqual(['s1', 's2', 's4']);
    expect(workers.c.sessionIds()).toEqual(['s3', 's5', 's6']);
    // Stopped without logging out, one at a time (each stop followed by its start).
    expect(workers.a.requests.filter((r) => r.method === 'DELETE').map((r) => r.url)).toEqual(['/api/sessions/s1', '/api/sessions/s2', '/api/sessions/s3']);
    const recorded = await recordedWorkers();
    expect(recorded).toMatchObject({ s1: 'worker-b', s2: 'worker-b', s3: 'worker-c' });
    expect(await draining()).toMatchObject({ 'worker-a': true });

    // A sync run puts a new session on a worker that is not draining, though worker-a has the most room.
    await db.client.query(`INSERT INTO whatsapp_accounts (workspace_id, session_id, status) VALUES ('1', 'new1', 'connected')`);
    const run = await syncJson('--auto-reconnect');
    expect(run.code).toBe(0);
    expect(run.report.fleet.workers.find((w: { worker_id: string }) => w.worker_id === 'worker-a')).toMatchObject({ verdict: 'draining', assigned: 0 });
    expect(workers.a.sessionIds()).toEqual([]);
    expect(run.report.fleet.moves).toEqual([{ session_id: 'new1', action: 'start', worker_id: 'worker-b', reason: 'new' }]);

    const undrained = await runInProcess(['undrain', 'worker-a'], env);
    expect(undrained).toMatchObject({ code: 0, stdout: '✅ worker-a takes new sessions again\n', stderr: '' });
    expect(await draining()).toMatchObject({ 'worker-a': false });
    await db.client.query(`INSERT INTO whatsapp_accounts (workspace_id, session_id, status) VALUES ('1', 'new2', 'connected')`);
    const reopened = await syncJson('--auto-reconnect');
    expect(reopened.report.fleet.moves).toEqual([{ session_id: 'new2', action: 'start', worker_id: 'worker-a', reason: 'new' }]);
    expect(workers.a.sessionIds()).toEqual(['new2']);
  });

  it('stops, naming the session, when no other worker has room; the session stays where it runs (exit 1)', async () => {
    await placeOn({ a: ['s1', 's2'], b: ['s3'], c: ['s4'] });
    workers.b.fleet!.max = 2;
    workers.c.fleet!.max = 1;
    const drained = await runInProcess(['drain', 'worker-a'], env);
    expect(drained.code).toBe(1);
    expect(drained.stdout).toContain('s1: worker-a → worker-b');
    expect(drained.stderr).toBe(
      'wa-sync: cannot move "s2": no other healthy worker has room; it stays on worker-a. Add a worker or raise WHATSAPP_MAX_SESSIONS, then run drain again [DRAIN_NO_CAPACITY]\n',
    );
    expect(workers.a.sessionIds()).toEqual(['s2']);
    expect(workers.a.requests.filter((r) => r.method === 'DELETE').map((r) => r.url)).toEqual(['/api/sessions/s1']);
    expect((await recordedWorkers()).s2).toBe('worker-a');
  });

  it('stops when a moved session is not connected in time, and says where it is (exit 1)', async () => {
    await placeOn({ a: ['s1'], b: [], c: [] });
    workers.b.startStatus = 'qr_scanning';
    workers.c.down = true;
    const drained = await runInProcess(['drain', 'worker-a', '--json'], { ...env, WA_SYNC_DRAIN_CONNECT_TIMEOUT_SECONDS: '1' });
    expect(drained.code).toBe(1);
    expect(drained.stderr).toMatch(/^wa-sync: "s1" was started on worker-b but is not connected within WA_SYNC_DRAIN_CONNECT_TIMEOUT_SECONDS \(last: qr_scanning\); .*\[DRAIN_MOVE_FAILED\]\n$/);
    expect(JSON.parse(drained.stdout)).toMatchObject({ ok: false, moved: [], error: { code: 'DRAIN_MOVE_FAILED' } });
    expect((await recordedWorkers()).s1).toBe('worker-b');
  });

  it('refuses to move anything from a worker that does not answer', async () => {
    await placeOn({ a: ['s1'], b: [], c: [] });
    workers.a.down = true;
    const drained = await runInProcess(['drain', 'worker-a'], env);
    expect(drained.code).toBe(1);
    expect(drained.stderr).toMatch(/^wa-sync: no worker of the fleet answers as "worker-a" \(not answering: .*\[DRAIN_WORKER_UNAVAILABLE\]\n$/);
    expect(await draining()).toMatchObject({ 'worker-a': true });
  });
});
