import {
  accountsBySession,
  runInProcess,
  seedAccounts,
  startCli,
  startInProcess,
  startSyncWorld,
  type SyncWorld,
  WorkerStandIn,
  type TestDatabase,
} from './support';
import { waitFor } from '@wa-session-sync/test-support';

// Each test runs the CLI a few times; generous so a loaded CI machine does not fail them.
jest.setTimeout(30_000);

let db: TestDatabase;
let worker: WorkerStandIn;
let env: Record<string, string>;

let world: SyncWorld;

beforeAll(async () => {
  world = await startSyncWorld('wa-sync-lock-', { migrate: true });
  ({ db, worker, env } = world);
});

afterAll(async () => {
  await world?.close();
});

beforeEach(async () => {
  worker.reset();
  await seedAccounts(db.client, [{ session_id: 'gone' }]);
});

describe('never overlapping', () => {
  it('lets exactly one of two concurrent runs sync; the other says it skipped and exits 0', async () => {
    worker.stall();
    const first = startInProcess(['sync-sessions', '--json'], env);
    await worker.sessionsRequested(); // the first run holds the lock now

    const second = await runInProcess(['sync-sessions', '--json'], env);
    expect(second).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(second.stdout)).toEqual({ ok: true, skipped: true, reason: 'another sync-sessions run holds the lock' });
    const human = await runInProcess(['sync-sessions'], env);
    expect(human.stdout).toBe('⏭️  Sync skipped: another sync-sessions run holds the lock\n');
    expect((await accountsBySession(db.client)).gone.status).toBe('connected');

    worker.release();
    const done = await first.done;
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout).summary).toMatchObject({ mismatches: 1, statuses_updated: 1 });
    expect((await accountsBySession(db.client)).gone.status).toBe('disconnected');
  });

  it('frees the lock at once when a run holding it is killed with SIGKILL', async () => {
    worker.stall();
    const doomed = startCli(['sync-sessions', '--json'], env);
    await worker.sessionsRequested();
    doomed.kill('SIGKILL');
    expect((await doomed.done).signal).toBe('SIGKILL');
    worker.release();
    // Postgres ends the killed client's session as soon as it reads the closed socket (there
    // is no timeout to wait for); wait for that, so the next run cannot race it.
    await waitFor(
      async () => (await db.client.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'wa-sync' AND datname = current_database()")).rows.length === 0,
      "Postgres to end the killed run's session",
      { timeoutMs: 15_000, intervalMs: 20 },
    );

    const next = await runInProcess(['sync-sessions', '--json'], env);
    expect(next.code).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ skipped: false, summary: { mismatches: 1, statuses_updated: 1 } });
    expect((await accountsBySession(db.client)).gone.status).toBe('disconnected');
  });
});
