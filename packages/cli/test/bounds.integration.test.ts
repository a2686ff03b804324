import fs from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { unprivilegedUser, waitFor } from '@wa-session-sync/test-support';
import { accountsBySession, readAuditLines, runCli, runInProcess, seedAccounts, startSyncWorld, type SyncWorld, type TestDatabase, WorkerStandIn } from './support';
import { SYNC_LOCK_KEY } from '../src/db/lock';

// The CLI bounds itself: whole exchanges, answers, the audit log, the back-off, the lock's age.
jest.setTimeout(30_000);

let db: TestDatabase;
let worker: WorkerStandIn;
let dir: string;
let env: Record<string, string>;
let world: SyncWorld;

beforeAll(async () => {
  world = await startSyncWorld('wa-sync-bounds-', { migrate: true });
  ({ db, worker, dir, env } = world);
});

afterAll(async () => {
  await world?.close();
});

beforeEach(async () => {
  worker.reset();
  await seedAccounts(db.client, [{ session_id: 'gone' }]);
  await fs.rm(world.auditLog, { recursive: true, force: true });
});

describe('nothing holds a run past its bounds', () => {
  it('cuts a worker that trickles its answer at WA_SYNC_REQUEST_TIMEOUT_MS for the whole exchange', async () => {
    const before = await accountsBySession(db.client);
    worker.health = 'trickle';
    const started = Date.now();
    const result = await runInProcess(['sync-sessions'], { ...env, WA_SYNC_REQUEST_TIMEOUT_MS: '1000' });
    const took = Date.now() - started;
    expect(result).toMatchObject({ code: 1, stdout: '', stderr: `wa-sync: the worker is not healthy: ${worker.url}/health timed out [WORKER_UNAVAILABLE]\n` });
    // One second of trickle plus the run's own work (and a loaded machine); an idle timeout would never fire.
    expect(took).toBeLessThan(6_000);
    expect(await accountsBySession(db.client)).toEqual(before);
  });

  it('ends a run at WA_SYNC_RUN_TIMEOUT_SECONDS even when each request has longer', async () => {
    worker.stall();
    const started = Date.now();
    const result = await runInProcess(['sync-sessions'], { ...env, WA_SYNC_REQUEST_TIMEOUT_MS: '60000', WA_SYNC_RUN_TIMEOUT_SECONDS: '1' });
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(result).toMatchObject({
      code: 1,
      stderr: `wa-sync: cannot read the worker sessions: ${worker.url}/api/sessions timed out [WORKER_BAD_RESPONSE]\n`,
    });
    expect((await accountsBySession(db.client)).gone.status).toBe('connected');
  });

  it('ends a statement that waits on a row someone else locked at the run deadline', async () => {
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query("BEGIN; SELECT 1 FROM whatsapp_accounts WHERE session_id = 'gone' FOR UPDATE");
      const started = Date.now();
      const result = await runInProcess(['sync-sessions'], { ...env, WA_SYNC_RUN_TIMEOUT_SECONDS: '1' });
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(result).toMatchObject({
        code: 1,
        stderr: `wa-sync: the database at 127.0.0.1:5432/${db.name} failed: canceling statement due to statement timeout [DATABASE_UNAVAILABLE]\n`,
      });
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect((await accountsBySession(db.client)).gone.status).toBe('connected');
  });

  it('refuses a huge error body after 1 MiB, in bounded memory, without reading it all', async () => {
    worker.health = { status: 503, streamBytes: 300 * 1024 * 1024 };
    const started = Date.now();
    const result = await runCli(['sync-sessions'], { ...env, WA_SYNC_REPORT_MAX_RSS: '1' });
    expect(Date.now() - started).toBeLessThan(8_000);
    const [line, rss] = result.stderr.split('\n');
    expect(result.code).toBe(1);
    expect(line).toBe(`wa-sync: the worker is not healthy: ${worker.url}/health answered more than 1 MiB; refused unread [WORKER_UNAVAILABLE]`);
    // Reading the 300 MB whole took the CLI to 968 MB.
    expect(Number(/peak RSS ([\d.]+) MB/.exec(rss)?.[1])).toBeLessThan(150);
  });
});

describe('the audit log', () => {
  it('exits 2 before anything is sent or written when it cannot be written', async () => {
    const before = await accountsBySession(db.client);
    const folder = path.join(dir, 'a-folder.log');
    await fs.mkdir(folder, { recursive: true });
    const result = await runInProcess(['sync-sessions', '--auto-reconnect'], { ...env, WA_SYNC_AUDIT_LOG: folder });
    expect(result).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `wa-sync: the audit log ${folder} cannot be written (EISDIR); set WA_SYNC_AUDIT_LOG to a writable file [AUDIT_LOG_UNWRITABLE]\n`,
    });
    expect(worker.requests).toEqual([]);
    expect(await accountsBySession(db.client)).toEqual(before);
  });

  it('exits 2 before anything is sent when its user may not write it (an existing file, a folder)', async () => {
    const before = await accountsBySession(db.client);
    // A read-only folder and file; root ignores modes, so a root test runs the CLI as nobody.
    const folder = path.join(dir, 'read-only');
    await fs.mkdir(folder, { recursive: true });
    const existing = path.join(folder, 'existing.log');
    await fs.writeFile(existing, '');
    await fs.chmod(existing, 0o444);
    await fs.chmod(folder, 0o555);
    await fs.chmod(dir, 0o711);
    for (const file of [existing, path.join(folder, 'missing.log')]) {
      const result = await runCli(['sync-sessions', '--auto-reconnect'], { ...env, WA_SYNC_AUDIT_LOG: file }, { user: unprivilegedUser() });
      expect(result).toMatchObject({
        code: 2,
        stdout: '',
        stderr: `wa-sync: the audit log ${file} cannot be written (EACCES); set WA_SYNC_AUDIT_LOG to a writable file [AUDIT_LOG_UNWRITABLE]\n`,
      });
    }
    expect(worker.requests).toEqual([]);
    expect(await accountsBySession(db.client)).toEqual(before);
  });

  it('is a warning, not a failed run, when it fails after the rows are committed', async () => {
    // A link to a folder that is not there: the log's own folder is writable at the start, the
    // append fails at the end.
    const link = path.join(dir, 'dangling.log');
    await fs.rm(link, { force: true });
    await fs.symlink(path.join(dir, 'removed-folder', 'audit.log'), link);
    const result = await runInProcess(['sync-sessions', '--json'], { ...env, WA_SYNC_AUDIT_LOG: link });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(`wa-sync: warning: the audit log ${link} could not be written (ENOENT); 1 line(s) lost\n`);
    expect(result.json).toMatchObject({ ok: true, summary: { statuses_updated: 1 }, audit_log: null });
    expect((await accountsBySession(db.client)).gone.status).toBe('disconnected');
  });
});

describe('rows the plan cannot take', () => {
  it('retries a row at 35 attempts (maximum 50) without an invalid date, waiting a day at most', async () => {
    const updatedAt = '2026-01-01T00:00:00.000Z';
    await seedAccounts(db.client, [
      {
        session_id: 'patient',
        status: 'disconnected',
        updated_at: updatedAt,
        metadata: { sync_written_at: updatedAt, sync_revive: true, reconnect_attempts: 35, next_reconnect_at: '2026-01-01T00:00:00.000Z' },
      },
    ]);
    const result = await runInProcess(['sync-sessions', '--auto-reconnect', '--json'], { ...env, WA_SYNC_RECONNECT_MAX_ATTEMPTS: '50' });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.json.summary).toMatchObject({ reconnected: 1 });
    const row = (await accountsBySession(db.client)).patient;
    expect(row).toMatchObject({ status: 'initializing', metadata: { reconnect_attempts: 36 } });
    const wait = Date.parse(row.metadata.next_reconnect_at as string) - Date.parse(row.metadata.auto_reconnect_at as string);
    expect(wait).toBe(24 * 60 * 60_000);
    expect(await readAuditLines(world.auditLog)).toEqual([expect.objectContaining({ session_id: 'patient', result: 'reconnected' })]);
  });
});

describe('a stuck sync', () => {
  it('exits 1 naming the age of a lock held longer than WA_SYNC_STUCK_MINUTES (an ordinary overlap stays exit 0)', async () => {
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_try_advisory_lock($1::bigint)', [SYNC_LOCK_KEY]);
      const overlap = await runInProcess(['sync-sessions'], env);
      expect(overlap).toMatchObject({ code: 0, stdout: '⏭️  Sync skipped: another sync-sessions run holds the lock\n' });

      // 0.005 minutes = 300 ms: the holder's connection is made that old before the run looks.
      await waitFor(
        async () => {
          const { rows } = await holder.query(
            "SELECT clock_timestamp() - backend_start > interval '400 ms' AS old FROM pg_stat_activity WHERE pid = pg_backend_pid()",
          );
          return rows[0].old === true;
        },
        'the holder to be older than 400 ms',
        5_000,
      );
      const stuck = await runInProcess(['sync-sessions'], { ...env, WA_SYNC_STUCK_MINUTES: '0.005' });
      const { rows } = await holder.query('SELECT pg_backend_pid() AS pid');
      expect(stuck.code).toBe(1);
      expect(stuck.stdout).toBe('');
      expect(stuck.stderr).toMatch(
        new RegExp(
          `^wa-sync: another sync-sessions run \\(pid ${rows[0].pid}\\) has held the lock for \\d+\\.\\d s, since \\S+Z: more than WA_SYNC_STUCK_MINUTES \\(0\\.005\\), a stuck sync \\[SYNC_STUCK\\]\\n$`,
        ),
      );
      expect((await accountsBySession(db.client)).gone.status).toBe('connected');
    } finally {
      await holder.end();
    }
  });
});

describe('the id pattern on new rows (migration 002)', () => {
  it('refuses a new row whose session_id or workspace_id is off the pattern', async () => {
    await expect(
      db.client.query("INSERT INTO whatsapp_accounts (workspace_id, session_id) VALUES ('1', E'evil\\x1b]0;owned\\x07')"),
    ).rejects.toThrow(/whatsapp_accounts_session_id_pattern/);
    await expect(db.client.query("INSERT INTO whatsapp_accounts (workspace_id, session_id) VALUES ('../1', 'fine')")).rejects.toThrow(
      /whatsapp_accounts_workspace_id_pattern/,
    );
    await expect(db.client.query("INSERT INTO whatsapp_accounts (workspace_id, session_id) VALUES ('w_1', 'fine-1')")).resolves.toBeDefined();
  });

  it('migrates a table that already holds bad ids; the sync reports those rows escaped and touches none of them', async () => {
    // The table as it was before migration 002, holding a row no CHECK refused then.
    await db.client.query(`
      ALTER TABLE whatsapp_accounts DROP CONSTRAINT whatsapp_accounts_session_id_pattern;
      ALTER TABLE whatsapp_accounts DROP CONSTRAINT whatsapp_accounts_workspace_id_pattern;
      DELETE FROM wa_sync_migrations WHERE name = '002_check_ids';`);
    await seedAccounts(db.client, [{ session_id: 'evil\u001b]0;owned\u0007\u001b[2J' }, { session_id: 'gone' }]);
    const migrated = await runInProcess(['migrate'], env);
    expect(migrated).toMatchObject({ code: 0, stdout: `Applied 002_check_ids (127.0.0.1:5432/${db.name})\n` });

    const before = await accountsBySession(db.client);
    const result = await runInProcess(['sync-sessions', '--auto-reconnect'], env);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain(
      '   evil\\x1b]0;owned\\x07\\x1b[2J (workspace 1): session_id does not match ^[A-Za-z0-9_-]{1,100}$\n',
    );
    expect(result.stdout).toContain('   Invalid accounts skipped: 1\n');
    expect(result.stdout).not.toMatch(/\u001b|\u0007/);
    expect(worker.posts().map((p) => p.body)).toEqual([JSON.stringify({ session_id: 'gone', workspace_id: '1' })]);
    expect((await accountsBySession(db.client))['evil\u001b]0;owned\u0007\u001b[2J']).toEqual(before['evil\u001b]0;owned\u0007\u001b[2J']);

    const json = await runInProcess(['sync-sessions', '--json'], env);
    expect(json.json.invalid_accounts).toEqual([
      { session_id: 'evil\u001b]0;owned\u0007\u001b[2J', workspace_id: '1', reason: 'session_id does not match ^[A-Za-z0-9_-]{1,100}$' },
    ]);
  });
});
