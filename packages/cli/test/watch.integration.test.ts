import fs from 'node:fs/promises';
import path from 'node:path';
import { waitFor } from '@wa-session-sync/test-support';
import { API_KEY, createTestDatabase, runInProcess, seedAccounts, startCli, tempDir, WorkerStandIn, type TestDatabase } from './support';

// `sync-sessions --watch` as the built CLI process: signals are the process's, so these run it as
// a process, over a fleet of two worker stand-ins and a real Postgres.

jest.setTimeout(30_000);

let db: TestDatabase;
let dir: string;
let a: WorkerStandIn;
let b: WorkerStandIn;
let env: Record<string, string>;

beforeAll(async () => {
  [db, dir, a, b] = await Promise.all([
    createTestDatabase(),
    tempDir('wa-sync-watch-'),
    WorkerStandIn.start({ workerId: 'worker-a', max: 5 }),
    WorkerStandIn.start({ workerId: 'worker-b', max: 5 }),
  ]);
  env = {
    DATABASE_URL: db.url,
    WHATSAPP_NODE_SERVICE_URLS: `${a.url},${b.url}`,
    WHATSAPP_NODE_API_KEY: API_KEY,
    WA_SYNC_AUDIT_LOG: path.join(dir, 'audit.log'),
  };
  const migrated = await runInProcess(['migrate'], env);
  if (migrated.code !== 0) throw new Error(migrated.stderr);
  await seedAccounts(db.client, [{ session_id: 's1', status: 'connected' }]);
});

afterAll(async () => {
  await Promise.all([db?.drop(), a?.close(), b?.close(), fs.rm(dir, { recursive: true, force: true })]);
});

/** The JSON lines printed so far. */
const lines = (stdout: string) => stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);

describe('sync-sessions --watch', () => {
  it('runs again and again; SIGTERM during a run ends it after that run, exit 0', async () => {
    const cli = startCli(['sync-sessions', '--watch=1', '--json', '--auto-reconnect'], env);
    try {
      await waitFor(() => lines(cli.stdout()).length >= 2, 'two runs of --watch', { timeoutMs: 15_000, intervalMs: 20 });
      // Hold the next run inside its read, then ask the controller to stop.
      a.requests = [];
      a.stall();
      await a.sessionsRequested();
      const printed = lines(cli.stdout()).length;
      cli.child.kill('SIGTERM');
      a.release();
      const result = await cli.done;
      expect(result).toMatchObject({ code: 0, stderr: '' });
      const runs = lines(result.stdout);
      // The run in progress at SIGTERM was finished and printed; no run after it.
      expect(runs).toHaveLength(printed + 1);
      expect(runs.every((run) => run.ok === true && run.skipped === false)).toBe(true);
      // The first run started s1; the later ones found it running and recorded.
      expect((runs[0].fleet as { summary: { started: number } }).summary.started).toBe(1);
      expect((runs[runs.length - 1].fleet as { summary: { started: number; kept: number } }).summary).toMatchObject({ started: 0, kept: 1 });
    } finally {
      a.release();
      await cli.stop();
    }
  });

  it('two copies never overlap: while one holds the lock the other skips its runs, and says so', async () => {
    a.requests = [];
    a.stall();
    const first = startCli(['sync-sessions', '--watch=1', '--json'], env);
    let second: ReturnType<typeof startCli> | undefined;
    try {
      await a.sessionsRequested(); // the first copy's run holds the lock now
      second = startCli(['sync-sessions', '--watch=1', '--json'], env);
      const copy = second;
      await waitFor(() => lines(copy.stdout()).filter((run) => run.skipped === true).length >= 2, 'two skipped runs of the second copy', {
        timeoutMs: 15_000,
        intervalMs: 20,
      });
      // Nothing the second copy did reached a worker while the first held the lock.
      expect(a.requests.filter((r) => r.url.startsWith('/api/sessions'))).toHaveLength(1);
      expect(lines(first.stdout())).toEqual([]);
      a.release();
      await waitFor(() => lines(copy.stdout()).some((run) => run.skipped === false), 'a run of the second copy once the lock is free', {
        timeoutMs: 15_000,
        intervalMs: 20,
      });
      first.child.kill('SIGTERM');
      copy.child.kill('SIGTERM');
      const [one, two] = await Promise.all([first.done, copy.done]);
      expect(one.code).toBe(0);
      expect(two.code).toBe(0);
      expect(lines(one.stdout)[0]).toMatchObject({ ok: true, skipped: false });
      expect(lines(two.stdout).filter((run) => run.skipped === true)[0]).toMatchObject({ ok: true, reason: expect.stringContaining('another sync-sessions run holds the lock') });
    } finally {
      a.release();
      await Promise.all([first.stop(), second?.stop()]);
    }
  });
});
