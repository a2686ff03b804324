import fs from 'node:fs/promises';
import path from 'node:path';
import {
  accountsBySession,
  readAuditLines,
  runInProcess,
  seedAccounts,
  startInProcess,
  startSyncWorld,
  type SyncWorld,
  WorkerStandIn,
  type TestDatabase,
  offContract,
} from './support';
import { freePort } from '@wa-session-sync/test-support';

// The CLI runs in this process (runInProcess); the installed bin's own smoke tests are in bin.integration.test.ts.
jest.setTimeout(30_000);

let db: TestDatabase;
let worker: WorkerStandIn;
let dir: string;
let env: Record<string, string>;

let world: SyncWorld;

beforeAll(async () => {
  world = await startSyncWorld('wa-sync-fail-', { migrate: true, env: { WA_SYNC_REQUEST_TIMEOUT_MS: '1000' } });
  ({ db, worker, dir, env } = world);
});

afterAll(async () => {
  await world?.close();
});

beforeEach(async () => {
  worker.reset();
  await seedAccounts(db.client, [{ session_id: 'gone' }]);
});

async function expectNothingWritten(before: Awaited<ReturnType<typeof accountsBySession>>): Promise<void> {
  expect(await accountsBySession(db.client)).toEqual(before);
  expect(worker.posts()).toEqual([]);
  await expect(fs.stat(path.join(dir, 'audit.log'))).rejects.toThrow(/ENOENT/);
}

describe('the worker cannot be used', () => {
  it('exits 1 naming the URL when the worker is down, writing nothing', async () => {
    const before = await accountsBySession(db.client);
    const url = `http://127.0.0.1:${await freePort()}`;
    const result = await runInProcess(['sync-sessions', '--auto-reconnect'], { ...env, WHATSAPP_NODE_SERVICE_URL: url });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`wa-sync: the worker is not healthy: ${url}/health refused the connection (is the worker running?) [WORKER_UNAVAILABLE]\n`);
    await expectNothingWritten(before);
  });

  it.each([
    ['a non-2xx health answer', { status: 503, body: { error: { code: 'worker_stopping', message: 'stopping' } } }, /answered HTTP 503/],
    ['malformed JSON', { status: 200, body: offContract('<html>oops') }, /answered malformed JSON/],
    ['JSON without the health facts', { status: 200, body: offContract({ status: 'ok' }) }, /without uptime and session counts/],
  ] as const)('exits 1 on %s, writing nothing', async (_name, health, message) => {
    const before = await accountsBySession(db.client);
    worker.health = health;
    const result = await runInProcess(['sync-sessions', '--auto-reconnect', '--json'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain(`${worker.url}/health`);
    expect(result.stderr.split('\n')).toHaveLength(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { code: 'WORKER_UNAVAILABLE' } });
    await expectNothingWritten(before);
  });

  it('exits 1 when /health times out, writing nothing', async () => {
    const before = await accountsBySession(db.client);
    worker.health = 'hang';
    const result = await runInProcess(['sync-sessions', '--auto-reconnect'], { ...env, WA_SYNC_REQUEST_TIMEOUT_MS: '300' });
    expect(result).toMatchObject({
      code: 1,
      stdout: '',
      stderr: `wa-sync: the worker is not healthy: ${worker.url}/health timed out [WORKER_UNAVAILABLE]\n`,
    });
    await expectNothingWritten(before);
  });

  it.each([
    ['malformed JSON', '{"sessions": [', 'answered malformed JSON'],
    ['JSON without a sessions list', '{"items": []}', 'answered JSON without a sessions list'],
  ])('exits 1 when /api/sessions answers %s, writing nothing', async (_name, body, message) => {
    const before = await accountsBySession(db.client);
    worker.sessionsBody = offContract(body);
    const result = await runInProcess(['sync-sessions', '--auto-reconnect'], env);
    expect(result).toMatchObject({
      code: 1,
      stdout: '',
      stderr: `wa-sync: cannot read the worker sessions: ${worker.url}/api/sessions ${message} [WORKER_BAD_RESPONSE]\n`,
    });
    await expectNothingWritten(before);
  });

  it('exits 1 when the worker rejects the API key, never printing the key', async () => {
    const before = await accountsBySession(db.client);
    const result = await runInProcess(['sync-sessions'], { ...env, WHATSAPP_NODE_API_KEY: 'wrong-key-123' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${worker.url}/api/sessions answered HTTP 401 (unauthorized); check WHATSAPP_NODE_API_KEY`);
    expect(result.stderr).not.toContain('wrong-key-123');
    await expectNothingWritten(before);
  });
});

describe('the database cannot be used', () => {
  it('exits 1 naming the host, never the password', async () => {
    const port = await freePort();
    const result = await runInProcess(['sync-sessions'], { ...env, DATABASE_URL: `postgres://app:hunter2-secret@127.0.0.1:${port}/accounts` });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `wa-sync: cannot reach the database at 127.0.0.1:${port}/accounts: connect ECONNREFUSED 127.0.0.1:${port} [DATABASE_UNAVAILABLE]\n`,
    );
    expect(result.stdout + result.stderr).not.toContain('hunter2');
    expect(worker.posts()).toEqual([]);
  });

  it('exits 1 when the database goes away during the run, writing nothing', async () => {
    const before = await accountsBySession(db.client);
    worker.stall();
    const run = startInProcess(['sync-sessions', '--json'], env);
    await worker.sessionsRequested(); // the run holds its connection (and the lock) now
    await db.client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'wa-sync' AND datname = current_database()");
    worker.release();

    const result = await run.done;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^wa-sync: the database at 127\\.0\\.0\\.1:5432/${db.name} failed: .+ \\[DATABASE_UNAVAILABLE\\]\\n$`));
    expect(result.stderr).not.toContain('s3cret-pw');
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { code: 'DATABASE_UNAVAILABLE' } });
    await expectNothingWritten(before);
  });

  it('exits 1 and says to migrate when the table is missing', async () => {
    const result = await runInProcess(['sync-sessions'], { ...env, DATABASE_URL: 'postgres://postgres:pw@127.0.0.1:5432/postgres' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('run `wa-sync migrate` first [SCHEMA_MISSING]');
  });

  it('exits 2 on a DATABASE_URL that is not a URL, without echoing it', async () => {
    const result = await runInProcess(['sync-sessions'], { ...env, DATABASE_URL: 'host=db password=topsecret' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^wa-sync: DATABASE_URL is not a valid URL.*\[CONFIG_INVALID\]\n$/);
    expect(result.stderr).not.toContain('topsecret');
  });
});

describe('the database write fails after requests were sent', () => {
  it('exits 1 with the error line, and records in the audit log every request that was sent', async () => {
    await seedAccounts(db.client, [
      { session_id: 'gone' },
      { session_id: 'dead' },
      { session_id: 'drifted', status: 'disconnected' },
    ]);
    worker.report({ session_id: 'dead', status: 'failed' }, { session_id: 'drifted', status: 'connected' });
    const before = await accountsBySession(db.client);
    const audit = path.join(dir, 'audit.log');
    await db.client.query(`
      CREATE FUNCTION wa_sync_test_refuse_updates() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'updates refused by the test'; END $$;
      CREATE TRIGGER wa_sync_test_refuse_updates BEFORE UPDATE ON whatsapp_accounts
        FOR EACH STATEMENT EXECUTE FUNCTION wa_sync_test_refuse_updates();`);
    try {
      const result = await runInProcess(['sync-sessions', '--auto-reconnect'], env);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(`wa-sync: the database at 127.0.0.1:5432/${db.name} failed: updates refused by the test [DATABASE_UNAVAILABLE]\n`);
      expect(result.stderr).not.toContain('s3cret-pw');

      expect(worker.posts().map((p) => p.url).sort()).toEqual(['/api/sessions', '/api/sessions/dead/reconnect']);
      expect(await accountsBySession(db.client)).toEqual(before);
      const lines = await readAuditLines(audit);
      expect(lines.map((line) => line.session_id).sort()).toEqual(['dead', 'gone']);
      for (const [session_id, action] of [['gone', 'start'], ['dead', 'reconnect']]) {
        expect(lines.find((line) => line.session_id === session_id)).toMatchObject({
          session_id,
          workspace_id: '1',
          action,
          before: { status: 'connected', phone_number: null },
          after: null,
          result: 'reconnected',
          error: `database write failed: the database at 127.0.0.1:5432/${db.name} failed: updates refused by the test`,
        });
      }
    } finally {
      await db.client.query('DROP TRIGGER wa_sync_test_refuse_updates ON whatsapp_accounts; DROP FUNCTION wa_sync_test_refuse_updates()');
      await fs.rm(audit, { force: true });
    }
  });
});

describe('a reconnect whose connection is reset', () => {
  it('is not sent again: it is reported as failed, and the run writes every row', async () => {
    await seedAccounts(db.client, [{ session_id: 'gone' }, { session_id: 'dead' }, { session_id: 'broken' }]);
    worker.report({ session_id: 'dead', status: 'failed' }, { session_id: 'broken', status: 'disconnected' });
    worker.drop.add('dead');
    const audit = path.join(dir, 'audit.log');
    try {
      const result = await runInProcess(['sync-sessions', '--auto-reconnect', '--json'], env);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      const error = 'the connection was reset before the worker answered (ECONNRESET); not sent again: a reconnect is not idempotent';
      expect(result.json.summary).toMatchObject({ mismatches: 3, reconnected: 2, reconnect_failed: 1 });
      expect(result.json.mismatches.find((m: { session_id: string }) => m.session_id === 'dead')).toMatchObject({
        action: 'reconnect',
        result: 'reconnect_failed',
        new_status: 'failed',
        error,
      });
      // Sent once, never again.
      expect(worker.posts().map((p) => p.url).sort()).toEqual([
        '/api/sessions',
        '/api/sessions/broken/reconnect',
        '/api/sessions/dead/reconnect',
      ]);
      const after = await accountsBySession(db.client);
      expect(after.dead).toMatchObject({ status: 'failed', metadata: { reconnect_attempts: 1, last_reconnect_error: error } });
      expect(after.broken.status).toBe('reconnecting');
      expect(after.gone.status).toBe('initializing');
      expect((await readAuditLines(audit)).find((line) => line.session_id === 'dead')).toMatchObject({ result: 'reconnect_failed', error });
    } finally {
      await fs.rm(audit, { force: true });
    }
  });
});

describe('bad arguments', () => {
  it.each([
    [['sync-sessions', '--bogus'], "wa-sync: unknown option '--bogus'\n"],
    [['sync-sessions', '--jsn'], "wa-sync: unknown option '--jsn' (Did you mean --json?)\n"],
    [['sync-sessions', '--workspace'], "wa-sync: option '--workspace <id>' argument missing\n"],
    [['sync-sessions', '--workspace=../etc'], 'wa-sync: --workspace must match ^[A-Za-z0-9_-]{1,100}$, got "../etc" [CONFIG_INVALID]\n'],
    [['sync-sessions', '--workspace', 'a b'], 'wa-sync: --workspace must match ^[A-Za-z0-9_-]{1,100}$, got "a b" [CONFIG_INVALID]\n'],
    [['resync'], "wa-sync: unknown command 'resync'\n"],
  ])('%j exits 2 with one line on stderr', async (args, stderr) => {
    const before = await accountsBySession(db.client);
    const result = await runInProcess(args, env);
    expect(result).toMatchObject({ code: 2, stdout: '', stderr });
    await expectNothingWritten(before);
  });
});
