import path from 'node:path';
import fs from 'node:fs/promises';
import {
  accountsBySession,
  API_KEY,
  readAuditLines,
  runInProcess,
  seedAccounts,
  startInProcess,
  startSyncWorld,
  type SyncWorld,
  WorkerStandIn,
  type TestDatabase,
  offContract,
  workerSession,
} from './support';
import { waitFor } from '@wa-session-sync/test-support';

// Each test runs the CLI (in this process) a few times; generous so a loaded CI machine does not fail them.
jest.setTimeout(30_000);

let db: TestDatabase;
let worker: WorkerStandIn;
let env: Record<string, string>;
let auditLog: string;

let world: SyncWorld;

beforeAll(async () => {
  world = await startSyncWorld('wa-sync-it-', { migrate: false, auditLog: path.join('logs', 'audit.log') });
  ({ db, worker, env, auditLog } = world);
});

afterAll(async () => {
  await world?.close();
});

beforeEach(async () => {
  worker.reset();
  await fs.rm(auditLog, { force: true });
});

const sync = (...args: string[]) => runInProcess(['sync-sessions', ...args], env);
const syncJson = async (...args: string[]) => {
  const result = await sync('--json', ...args);
  expect(result).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(result.stdout);
};

describe('wa-sync migrate', () => {
  it('creates whatsapp_accounts with the contract defaults and is idempotent', async () => {
    const first = await runInProcess(['migrate'], env);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toContain('Applied 001_create_whatsapp_accounts');
    const again = await runInProcess(['migrate'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('up to date');

    const { rows } = await db.client.query(
      "INSERT INTO whatsapp_accounts (workspace_id, session_id) VALUES ('1', 'defaults') RETURNING *",
    );
    expect(rows[0]).toMatchObject({ provider_type: 'webjs', status: 'disconnected', is_active: true, metadata: {}, deleted_at: null });
    expect(rows[0].uuid).toMatch(/^[0-9a-f-]{36}$/);
    await expect(
      db.client.query("INSERT INTO whatsapp_accounts (workspace_id, session_id, status) VALUES ('1', 'bad', 'online')"),
    ).rejects.toThrow(/whatsapp_accounts_status_check/);
    await expect(db.client.query("INSERT INTO whatsapp_accounts (workspace_id, session_id) VALUES ('2', 'defaults')")).rejects.toThrow(
      /duplicate key/,
    );
  });
});

describe('wa-sync sync-sessions', () => {
  it('marks a connected row the worker lacks disconnected, merging metadata, and reports it', async () => {
    await seedAccounts(db.client, [
      { session_id: 'gone', phone_number: '62811801641', metadata: { owner: 'sales' } },
      { session_id: 'alive', phone_number: '6282' },
      { session_id: 'inactive', is_active: false },
    ]);
    worker.report({ session_id: 'alive', phone_number: '6282' });
    const before = await accountsBySession(db.client);

    const result = await sync();
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('✅ Worker is healthy (uptime: 1390s)');
    expect(result.stdout).toContain('Sessions in worker: 1 total, 1 connected');
    expect(result.stdout).toContain('Sessions in database: 2 active');
    expect(result.stdout).toContain(
      ['   Session ID: gone', '   Phone: 62811801641', '   Database status: connected', '   Worker status: not found'].join('\n'),
    );
    expect(result.stdout).toMatch(/Mismatches found: 1\n {3}Sessions reconnected: 0\n {3}Statuses updated: 1\n/);
    expect(result.stdout).not.toContain('\u001b[');

    const after = await accountsBySession(db.client);
    expect(after.gone.status).toBe('disconnected');
    expect(after.gone.metadata).toMatchObject({
      owner: 'sales',
      reason: 'Node.js session not found during sync',
      auto_disconnected_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(after.alive).toEqual(before.alive);
    expect(after.inactive).toEqual(before.inactive);
    expect(worker.posts()).toEqual([]);

    const audit = await readAuditLines(auditLog);
    expect(audit).toEqual([
      expect.objectContaining({
        session_id: 'gone',
        workspace_id: '1',
        before: { status: 'connected', phone_number: '62811801641' },
        after: { status: 'disconnected', phone_number: '62811801641' },
        result: 'status_updated',
      }),
    ]);
  });

  it('takes the status the worker reports and learns a missing phone number', async () => {
    await seedAccounts(db.client, [
      { session_id: 'broken' },
      { session_id: 'paired', status: 'disconnected', phone_number: null },
      { session_id: 'scanning', status: 'connected' },
    ]);
    worker.report(
      { session_id: 'broken', status: 'failed' },
      { session_id: 'paired', status: 'connected', phone_number: '628123' },
      { session_id: 'scanning', status: 'qr_scanning' },
    );

    const report = await syncJson();
    expect(report.summary).toMatchObject({ mismatches: 3, reconnected: 0, statuses_updated: 3 });
    const after = await accountsBySession(db.client);
    expect(after.broken).toMatchObject({ status: 'failed', metadata: { reason: 'Node.js session failed during sync' } });
    expect(after.paired).toMatchObject({ status: 'connected', phone_number: '628123' });
    expect(after.scanning.status).toBe('qr_scanning');
  });

  it('with --auto-reconnect starts and reconnects sessions, stores what the worker reports, and survives one failing request', async () => {
    await seedAccounts(db.client, [
      { session_id: 'missing', phone_number: '6281' },
      { session_id: 'failed-one' },
      { session_id: 'refused' },
      { session_id: 'dropped' },
    ]);
    worker.report({ session_id: 'failed-one', status: 'failed' }, { session_id: 'dropped', status: 'disconnected' });
    worker.answer('missing', { status: 201, body: workerSession({ session_id: 'missing', status: 'qr_scanning' }) });
    worker.answer('refused', { status: 500, body: { error: { code: 'internal_error', message: 'no' } } });

    const report = await syncJson('--auto-reconnect');
    expect(report).toMatchObject({
      ok: true,
      skipped: false,
      dry_run: false,
      auto_reconnect: true,
      worker: { url: worker.url, uptime: 1390, total: 2, connected: 0 },
      database: { label: `127.0.0.1:5432/${db.name}`, active_accounts: 4 },
      summary: { mismatches: 4, reconnected: 3, statuses_updated: 1, reconnect_failed: 1 },
    });
    expect(JSON.stringify(report)).not.toContain('s3cret-pw');

    const posts = worker.posts();
    expect(posts.every((p) => p.apiKey === API_KEY)).toBe(true);
    expect(posts.map((p) => `${p.url} ${p.body}`).sort()).toEqual([
      '/api/sessions {"session_id":"missing","workspace_id":"1"}',
      '/api/sessions {"session_id":"refused","workspace_id":"1"}',
      '/api/sessions/dropped/reconnect {}',
      '/api/sessions/failed-one/reconnect {}',
    ]);

    const after = await accountsBySession(db.client);
    expect(after.missing).toMatchObject({
      status: 'qr_scanning',
      metadata: {
        reason: 'Node.js session not found during sync',
        auto_disconnected_at: expect.any(String),
        auto_reconnect_at: expect.any(String),
        reconnect_triggered_by: 'sync_command',
        reconnect_attempts: 1,
      },
    });
    expect(after['failed-one'].status).toBe('reconnecting');
    expect(after.dropped.status).toBe('reconnecting');
    expect(after.refused).toMatchObject({
      status: 'disconnected',
      metadata: { reconnect_attempts: 1, last_reconnect_error: 'HTTP 500 (internal_error)' },
    });
    expect(Object.values(after).some((row) => row.status === 'connected')).toBe(false);
    expect((await readAuditLines(auditLog)).map((line) => `${line.session_id}:${line.result}`).sort()).toEqual([
      'dropped:reconnected',
      'failed-one:reconnected',
      'missing:reconnected',
      'refused:reconnect_failed',
    ]);
  });

  it('never revives a session a person disconnected or logged out, but revives one the sync took down', async () => {
    await seedAccounts(db.client, [
      { session_id: 'by-person', status: 'disconnected' },
      { session_id: 'by-crash' },
      { session_id: 'logged-out' },
    ]);
    worker.report({ session_id: 'logged-out', status: 'disconnected', reason: 'LOGOUT' });

    expect((await syncJson()).summary.statuses_updated).toBe(2);
    const second = await syncJson('--auto-reconnect');
    expect(worker.posts().map((p) => p.url)).toEqual(['/api/sessions']);
    expect(JSON.parse(worker.posts()[0].body)).toEqual({ session_id: 'by-crash', workspace_id: '1' });
    expect(second.summary).toMatchObject({ reconnected: 1 });

    const after = await accountsBySession(db.client);
    expect(after['by-person'].status).toBe('disconnected');
    expect(after['by-crash'].status).toBe('initializing');
    expect(after['logged-out']).toMatchObject({ status: 'disconnected', metadata: { sync_revive: false } });
  });

  it('backs reconnects off across runs and gives up at the cap', async () => {
    const capped = { ...env, WA_SYNC_RECONNECT_MAX_ATTEMPTS: '2' };
    const run = async () => JSON.parse((await runInProcess(['sync-sessions', '--auto-reconnect', '--json'], capped)).stdout);
    const makeDue = () =>
      db.client.query(
        `UPDATE whatsapp_accounts SET metadata = metadata || '{"next_reconnect_at":"2000-01-01T00:00:00.000Z"}' WHERE session_id = 'flaky'`,
      );
    await seedAccounts(db.client, [{ session_id: 'flaky' }]);
    worker.answer('flaky', { status: 503, body: { error: { code: 'worker_stopping', message: 'busy' } } });

    expect((await run()).summary).toMatchObject({ reconnect_failed: 1 });
    const backedOff = await run();
    expect(backedOff.summary).toMatchObject({ backed_off: 1, reconnect_failed: 0 });
    expect(backedOff.mismatches[0]).toMatchObject({ result: 'backed_off', reconnect_attempts: 1, next_reconnect_at: expect.any(String) });
    expect(worker.posts()).toHaveLength(1);
    const dry = JSON.parse((await runInProcess(['sync-sessions', '--auto-reconnect', '--json', '--dry-run'], capped)).stdout);
    expect(dry).toMatchObject({ dry_run: true, summary: { backed_off: 1, statuses_updated: 0 } });
    expect(dry.mismatches[0]).toMatchObject({ result: 'backed_off', reconnect_attempts: 1 });

    await makeDue();
    expect((await run()).summary).toMatchObject({ reconnect_failed: 1 });
    expect(worker.posts()).toHaveLength(2);
    await makeDue();
    expect((await run()).summary).toMatchObject({ given_up: 1, reconnect_failed: 0 });
    const givenUp = (await accountsBySession(db.client)).flaky;
    expect(givenUp.metadata).toMatchObject({ reconnect_attempts: 2, reconnect_given_up_at: expect.any(String) });

    const human = await runInProcess(['sync-sessions', '--auto-reconnect'], capped);
    expect(human.stdout).toContain('🛑 Given up');
    expect(human.stdout).toContain('Reconnects given up: 1');
    expect(worker.posts()).toHaveLength(2);
    expect((await accountsBySession(db.client)).flaky.updated_at).toEqual(givenUp.updated_at);
  });

  it('with --dry-run prints the plan and sends and writes nothing', async () => {
    await seedAccounts(db.client, [{ session_id: 'gone' }, { session_id: 'dead' }]);
    worker.report({ session_id: 'dead', status: 'failed' });
    const before = await accountsBySession(db.client);

    const result = await sync('--dry-run', '--auto-reconnect');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('dry run');
    expect(result.stdout).toContain('Would ask the worker to start the session');
    expect(result.stdout).toContain('Would ask the worker to reconnect the session');
    expect(result.stdout).toContain('Mismatches found: 2');
    expect(await accountsBySession(db.client)).toEqual(before);
    expect(worker.posts()).toEqual([]);
    expect(await readAuditLines(auditLog)).toEqual([]);
  });

  it('with --workspace reads and writes only that workspace', async () => {
    await seedAccounts(db.client, [
      { session_id: 'one', workspace_id: '1' },
      { session_id: 'two', workspace_id: '2' },
    ]);
    const report = await syncJson('--workspace=2');
    expect(report).toMatchObject({ workspace_id: '2', database: { active_accounts: 1 }, summary: { mismatches: 1 } });
    expect(worker.requests.find((r) => r.method === 'GET' && r.url.startsWith('/api/sessions'))?.url).toBe('/api/sessions?workspace_id=2');
    const after = await accountsBySession(db.client);
    expect(after.one.status).toBe('connected');
    expect(after.two.status).toBe('disconnected');
  });

  it('skips and reports garbage worker entries and sessions the database does not know, writing none of them', async () => {
    await seedAccounts(db.client, [{ session_id: 'garbled' }, { session_id: 'fine', status: 'disconnected' }]);
    worker.report(
      offContract({ ...workerSession({ session_id: 'garbled' }), status: 'online' }),
      offContract({ ...workerSession({ session_id: 'x' }), session_id: undefined }),
      { session_id: 'fine', status: 'connected' },
      { session_id: 'stranger', workspace_id: '9', status: 'connected' },
    );
    const before = await accountsBySession(db.client);

    const report = await syncJson('--auto-reconnect');
    expect(report.invalid_worker_sessions).toEqual([
      { session_id: 'garbled', reason: 'unknown status "online"' },
      { session_id: null, reason: 'invalid session_id missing' },
    ]);
    expect(report.unknown_worker_sessions).toEqual([{ session_id: 'stranger', workspace_id: '9', status: 'connected' }]);
    expect(report.summary).toMatchObject({ mismatches: 1, invalid_worker_sessions: 2, unknown_worker_sessions: 1 });
    const after = await accountsBySession(db.client);
    expect(after.garbled).toEqual(before.garbled);
    expect(after.fine.status).toBe('connected');
    expect(worker.posts()).toEqual([]);
  });

  it('leaves alone a row someone changed between the read and the write, and says so', async () => {
    await seedAccounts(db.client, [{ session_id: 'contested' }, { session_id: 'plain' }]);
    // Backends of earlier runs may linger for a moment after their run closed its connections.
    const earlier = (
      await db.client.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'wa-sync' AND datname = current_database()")
    ).rows.map((row) => row.pid as number);
    worker.stall();
    const run = startInProcess(['sync-sessions', '--json'], env);
    await worker.sessionsRequested();
    // Wait until this run's connection has finished reading the accounts.
    await waitFor(
      async () =>
        (
          await db.client.query(
            `SELECT 1 FROM pg_stat_activity
              WHERE application_name = 'wa-sync' AND datname = current_database() AND state = 'idle' AND query LIKE 'SELECT id::text%' AND NOT (pid = ANY($1::int[]))`,
            [earlier],
          )
        ).rows.length > 0,
      "the run's connection to have read the accounts",
      { timeoutMs: 15_000, intervalMs: 20 },
    );
    await db.client.query(
      `UPDATE whatsapp_accounts SET status = 'disconnected', metadata = '{"by":"person"}' WHERE session_id = 'contested'`,
    );
    worker.release();

    const result = await run.done;
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.summary).toMatchObject({ mismatches: 2, statuses_updated: 1, conflicts: 1 });
    expect(report.mismatches.find((m: { session_id: string }) => m.session_id === 'contested')).toMatchObject({
      result: 'conflict',
      new_status: null,
    });
    const after = await accountsBySession(db.client);
    expect(after.contested).toMatchObject({ status: 'disconnected', metadata: { by: 'person' } });
    expect(after.plain.status).toBe('disconnected');
    expect((await readAuditLines(auditLog)).map((line) => `${line.session_id}:${line.result}`).sort()).toEqual([
      'contested:conflict',
      'plain:status_updated',
    ]);
  });
});

describe('bad values never cost the run', () => {
  const long = '9'.repeat(80);
  const tooLong = `+${'1'.repeat(32)}`;

  it('uses entries whose phone number the column cannot hold with the phone unknown, writes every row and reports the values', async () => {
    await seedAccounts(db.client, [
      { session_id: 'has-number', status: 'disconnected', phone_number: '62811801641' },
      { session_id: 'no-number', status: 'disconnected', phone_number: null },
      { session_id: 'crashed' },
      { session_id: 'gone' },
    ]);
    worker.report(
      { session_id: 'has-number', status: 'connected', phone_number: long },
      { session_id: 'no-number', status: 'connected', phone_number: tooLong },
      { session_id: 'crashed', status: 'failed', phone_number: long },
    );
    // An error code Postgres's jsonb cannot store (a NUL, a lone surrogate) must not fail the write either.
    worker.answer('crashed', { status: 500, body: offContract('{"error":{"code":"\\u0000\\ud800","message":"x"}}') });

    const report = await syncJson('--auto-reconnect');
    expect(report.summary).toMatchObject({ mismatches: 4, statuses_updated: 3, reconnected: 1, reconnect_failed: 1, invalid_worker_values: 3 });
    expect(report.invalid_worker_sessions).toEqual([]);
    const reason = 'not a phone number (^(?=.{5,32}$)\\+?\\d{5,32}$): treated as unknown';
    expect(report.invalid_worker_values).toEqual([
      { session_id: 'has-number', field: 'phone_number', value: `"${'9'.repeat(56)}...`, reason },
      { session_id: 'no-number', field: 'phone_number', value: JSON.stringify(tooLong), reason },
      { session_id: 'crashed', field: 'phone_number', value: `"${'9'.repeat(56)}...`, reason },
    ]);
    // The requests were sent and the rows written, the stored number kept, nothing unknown written over it.
    expect(worker.posts().map((p) => p.url).sort()).toEqual(['/api/sessions', '/api/sessions/crashed/reconnect']);
    const after = await accountsBySession(db.client);
    expect(after['has-number']).toMatchObject({ status: 'connected', phone_number: '62811801641' });
    expect(after['no-number']).toMatchObject({ status: 'connected', phone_number: null });
    expect(after.crashed).toMatchObject({ status: 'failed', phone_number: null, metadata: { last_reconnect_error: 'HTTP 500', reconnect_attempts: 1 } });
    expect(after.gone.status).toBe('initializing');
    expect((await readAuditLines(auditLog)).map((line) => `${line.session_id}:${line.result}`).sort()).toEqual([
      'crashed:reconnect_failed',
      'gone:reconnected',
      'has-number:status_updated',
      'no-number:status_updated',
    ]);

    const human = await sync();
    expect(human).toMatchObject({ code: 0, stderr: '' });
    expect(human.stdout).toContain(
      [
        '🚫 Worker values ignored (the entry was used, the value treated as unknown):',
        `   has-number: phone_number "${'9'.repeat(56)}...: ${reason}`,
        `   no-number: phone_number ${JSON.stringify(tooLong)}: ${reason}`,
        `   crashed: phone_number "${'9'.repeat(56)}...: ${reason}`,
      ].join('\n'),
    );
    expect(human.stdout).toContain('   Invalid worker values: 3\n');
  });

  it('turns a metadata that is not a JSON object into one holding the sync keys, keeping the old value in the audit line', async () => {
    const corrupted: Record<string, unknown> = {
      'is-array': ['legacy', { owner: 'sales' }],
      'is-string': 'owner=sales',
      'is-number': 42,
      'is-null': null,
    };
    await seedAccounts(db.client, [
      ...Object.entries(corrupted).map(([session_id, metadata]) => ({ session_id, metadata })),
      { session_id: 'is-object', metadata: { owner: 'sales' } },
      { session_id: 'untouched', status: 'connected', metadata: ['left', 'alone'] },
    ]);
    worker.report({ session_id: 'untouched', status: 'connected' });

    const dry = await sync('--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout.match(/Metadata is not a JSON object: the write would replace it/g)).toHaveLength(4);
    expect(await readAuditLines(auditLog)).toEqual([]);

    const report = await syncJson();
    expect(report.summary).toMatchObject({ mismatches: 5, statuses_updated: 5 });
    const replaced = Object.fromEntries(report.mismatches.map((m: { session_id: string; metadata_replaced: boolean }) => [m.session_id, m.metadata_replaced]));
    expect(replaced).toEqual({ 'is-array': true, 'is-string': true, 'is-number': true, 'is-null': true, 'is-object': false });

    const after = await accountsBySession(db.client);
    for (const id of Object.keys(corrupted)) {
      expect(after[id].status).toBe('disconnected');
      expect(after[id].metadata).toEqual({
        auto_disconnected_at: expect.any(String),
        reason: 'Node.js session not found during sync',
        sync_written_at: expect.any(String),
        sync_revive: true,
      });
    }
    expect(after['is-object'].metadata).toMatchObject({ owner: 'sales', reason: 'Node.js session not found during sync' });
    expect(after.untouched.metadata).toEqual(['left', 'alone']);

    const audit = await readAuditLines(auditLog);
    expect(Object.fromEntries(audit.map((line) => [line.session_id, line.previous_metadata]))).toEqual({ ...corrupted, 'is-object': undefined });
    expect(audit.find((line) => line.session_id === 'is-null')).toHaveProperty('previous_metadata', null);
    expect(audit.find((line) => line.session_id === 'is-object')).not.toHaveProperty('previous_metadata');

    // The next run finds objects: nothing is replaced again.
    worker.report(...[...Object.keys(corrupted), 'untouched'].map((session_id) => ({ session_id, status: 'connected' as const })));
    const next = await syncJson();
    expect(next.mismatches.filter((m: { metadata_replaced: boolean }) => m.metadata_replaced)).toEqual([]);
  });

  it('never revives a session the worker stopped because nobody scanned its QR in time, but corrects its status', async () => {
    await seedAccounts(db.client, [{ session_id: 'qr-timed-out' }, { session_id: 'crashed' }]);
    worker.report(
      { session_id: 'qr-timed-out', status: 'disconnected', reason: 'QR_TIMEOUT' },
      { session_id: 'crashed', status: 'disconnected', reason: 'BROWSER_GONE' },
    );

    const report = await syncJson('--auto-reconnect');
    expect(worker.posts().map((p) => p.url)).toEqual(['/api/sessions/crashed/reconnect']);
    expect(report.mismatches.find((m: { session_id: string }) => m.session_id === 'qr-timed-out')).toMatchObject({
      action: 'update_status',
      result: 'status_updated',
      worker_status: 'disconnected',
      new_status: 'disconnected',
    });
    const after = await accountsBySession(db.client);
    expect(after['qr-timed-out']).toMatchObject({
      status: 'disconnected',
      metadata: { sync_revive: false, reason: 'Node.js session disconnected during sync' },
    });
    expect(after.crashed.status).toBe('reconnecting');

    // Later the worker no longer has it (restarted): the sync still does not start it.
    worker.report({ session_id: 'crashed', status: 'connected' });
    worker.requests = [];
    await syncJson('--auto-reconnect');
    expect(worker.posts()).toEqual([]);
    expect((await accountsBySession(db.client))['qr-timed-out'].status).toBe('disconnected');
  });
});
