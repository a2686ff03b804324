import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Knex } from 'knex';
import { createTestDatabase, type TestDatabase } from '@wa-session-sync/test-support';
import { MIGRATION_NAMES, migrateDown, migrateToLatest } from '../src/db/migrations';
import { openKnex } from './store';

// PGlite starts in seconds on a loaded machine.
jest.setTimeout(90_000);

/** What each migration adds, as `schemaOf` lists it. */
const ADDED_BY: Record<string, string[]> = {
  '001_create_whatsapp_accounts': ['table whatsapp_accounts'],
  '002_check_ids': ['check whatsapp_accounts_session_id_pattern', 'check whatsapp_accounts_workspace_id_pattern'],
  '003_session_leases_and_auth': [
    'check whatsapp_session_auth_session_id_pattern',
    'check whatsapp_session_auth_sha256_check',
    'check whatsapp_session_auth_size_bytes_check',
    'check whatsapp_session_auth_workspace_id_pattern',
    'check whatsapp_session_leases_session_id_pattern',
    'check whatsapp_session_leases_worker_id_not_empty',
    'check whatsapp_session_leases_workspace_id_pattern',
    'index whatsapp_session_leases_worker_id_index',
    'sequence whatsapp_session_lease_token_seq',
    'table whatsapp_session_auth',
    'table whatsapp_session_leases',
  ],
  '004_fleet': [
    'check whatsapp_workers_worker_id_not_empty',
    'column whatsapp_accounts.worker_id',
    'index whatsapp_accounts_worker_id_index',
    'table whatsapp_workers',
  ],
};

/** knex's own bookkeeping, there before the first migration and after the last `down`. */
const KNEX_OBJECTS = ['table wa_sync_migrations', 'table wa_sync_migrations_lock', 'sequence wa_sync_migrations_lock_index_seq'];

/**
 * The public schema's tables, sequences, named indexes and checks, and `whatsapp_accounts.worker_id`:
 * what the migrations add and remove. (Primary keys' and serials' own objects left out.) The same
 * query runs on Postgres and PGlite.
 */
const SCHEMA_SQL = `
  SELECT kind || ' ' || name AS object FROM (
    SELECT 'table' AS kind, table_name::text AS name FROM information_schema.tables WHERE table_schema = 'public'
    UNION ALL
    SELECT 'sequence', sequence_name::text FROM information_schema.sequences
     WHERE sequence_schema = 'public' AND sequence_name NOT LIKE '%\\_id\\_seq'
    UNION ALL
    SELECT 'index', indexname::text FROM pg_indexes
     WHERE schemaname = 'public' AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'
    UNION ALL
    SELECT 'check', conname::text FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
     WHERE n.nspname = 'public' AND c.contype = 'c'
    UNION ALL
    SELECT 'column', 'whatsapp_accounts.worker_id' FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name = 'whatsapp_accounts' AND column_name = 'worker_id'
  ) objects ORDER BY 1`;

/** Indexes that are not the point of any test here, but that 001 made: left in the expected lists. */
const ACCOUNT_INDEXES = ['index whatsapp_accounts_status_index', 'index whatsapp_accounts_workspace_id_index'];
const CHECKS_OF_001 = ['check whatsapp_accounts_status_check'];

/** The schema once the first `count` migrations are applied. */
function expectedAfter(count: number): string[] {
  const objects = [...KNEX_OBJECTS];
  for (const name of MIGRATION_NAMES.slice(0, count)) objects.push(...ADDED_BY[name]);
  if (count >= 1) objects.push(...ACCOUNT_INDEXES, ...CHECKS_OF_001);
  return objects.sort();
}

async function schemaOf(knex: Knex): Promise<string[]> {
  const result = await knex.raw<{ rows: { object: string }[] }>(SCHEMA_SQL);
  return result.rows.map((row) => row.object).sort();
}

describe('the migrations on Postgres', () => {
  let db: TestDatabase;
  let knex: Knex;

  beforeEach(async () => {
    db = await createTestDatabase({ prefix: 'wa_migrations' });
    knex = openKnex(db.url);
  });

  afterEach(async () => {
    await knex?.destroy();
    await db?.drop();
  });

  it('apply in order, once; each down removes what its up added; all apply again after', async () => {
    expect(MIGRATION_NAMES).toEqual(Object.keys(ADDED_BY));
    expect(await migrateToLatest(knex)).toEqual(MIGRATION_NAMES);
    expect(await migrateToLatest(knex)).toEqual([]);
    expect(await schemaOf(knex)).toEqual(expectedAfter(MIGRATION_NAMES.length));
    for (let count = MIGRATION_NAMES.length; count > 0; count--) {
      expect(await migrateDown(knex)).toBe(MIGRATION_NAMES[count - 1]);
      expect({ after: count - 1, schema: await schemaOf(knex) }).toEqual({ after: count - 1, schema: expectedAfter(count - 1) });
    }
    expect(await migrateDown(knex)).toBeNull();
    expect(await migrateToLatest(knex)).toEqual(MIGRATION_NAMES);
  });

  it('go on from a database migrated when they lived in the CLI (001 and 002 in wa_sync_migrations), keeping its accounts', async () => {
    await migrateToLatest(knex);
    await migrateDown(knex);
    await migrateDown(knex);
    expect((await db.query('SELECT name FROM wa_sync_migrations ORDER BY id')).map((row) => row.name)).toEqual([
      '001_create_whatsapp_accounts',
      '002_check_ids',
    ]);
    await db.query(`INSERT INTO whatsapp_accounts (workspace_id, session_id) VALUES ('1', 'kept')`);
    expect(await migrateToLatest(knex)).toEqual(['003_session_leases_and_auth', '004_fleet']);
    expect(await db.query('SELECT session_id, worker_id FROM whatsapp_accounts')).toEqual([{ session_id: 'kept', worker_id: null }]);
  });

  it('check ids on the new tables as on the accounts, and refuse an empty worker id', async () => {
    await migrateToLatest(knex);
    const lease = (sessionId: string, workspaceId: string, workerId: string) =>
      db.query(
        `INSERT INTO whatsapp_session_leases (session_id, workspace_id, worker_id, token, expires_at)
         VALUES ($1, $2, $3, nextval('whatsapp_session_lease_token_seq'), now())`,
        [sessionId, workspaceId, workerId],
      );
    await expect(lease('../etc', 'ws', 'A')).rejects.toThrow(/whatsapp_session_leases_session_id_pattern/);
    await expect(lease('s', 'w s', 'A')).rejects.toThrow(/whatsapp_session_leases_workspace_id_pattern/);
    await expect(lease('s', 'ws', '')).rejects.toThrow(/whatsapp_session_leases_worker_id_not_empty/);
    await expect(db.query(`INSERT INTO whatsapp_workers (worker_id) VALUES ('')`)).rejects.toThrow(/whatsapp_workers_worker_id_not_empty/);
    await expect(
      db.query(
        `INSERT INTO whatsapp_session_auth (session_id, workspace_id, data, size_bytes, sha256, fencing_token)
         VALUES ('s', 'ws', '\\x0102', 3, repeat('a', 64), 1)`,
      ),
    ).rejects.toThrow(/whatsapp_session_auth_size_bytes_check/);
    expect(await db.query(`SELECT * FROM whatsapp_workers`)).toEqual([]);
    await db.query(`INSERT INTO whatsapp_workers (worker_id) VALUES ('host-1')`);
    expect(await db.query(`SELECT worker_id, draining, draining_since, last_seen_at, unreachable_runs FROM whatsapp_workers`)).toEqual([
      { worker_id: 'host-1', draining: false, draining_since: null, last_seen_at: null, unreachable_runs: 0 },
    ]);
  });
});

describe('the migrations on PGlite (the CLI\'s embedded database)', () => {
  it('apply, go down one by one and apply again, leaving the same schema as on Postgres; the store works on it', async () => {
    // In a node process of its own, on the build: PGlite's WebAssembly loader needs a real module
    // loader, not jest's VM (as in the CLI's embedded-database tests).
    const dist = path.resolve(__dirname, '..', 'dist', 'db');
    const program = `
      const knex = require('knex')({ client: require('knex-pglite'), dialect: 'postgres', connection: {} });
      const { migrateToLatest, migrateDown, acquireLease, saveAuth, loadAuth } = require(${JSON.stringify(dist)});
      const schemaOf = async () => (await knex.raw(${JSON.stringify(SCHEMA_SQL)})).rows.map((row) => row.object).sort();
      (async () => {
        try {
          const applied = await migrateToLatest(knex);
          const schema = await schemaOf();
          const undone = [];
          for (let name; (name = await migrateDown(knex)); ) undone.push(name);
          const emptied = await schemaOf();
          const again = await migrateToLatest(knex);
          const lease = await acquireLease(knex, { sessionId: 's', workspaceId: 'ws', workerId: 'A', ttlSeconds: 30 });
          const data = Buffer.from([0, 1, 255]);
          const hash = require('node:crypto').createHash('sha256').update(data).digest('hex');
          const saved = await saveAuth(knex, { sessionId: 's', workspaceId: 'ws', workerId: 'A', token: lease.token, data, sha256: hash });
          const loaded = await loadAuth(knex, 's');
          process.stdout.write(JSON.stringify({
            applied, schema, undone, emptied, again,
            lease: { acquired: lease.acquired, token: typeof lease.token, expiresAt: lease.expiresAt instanceof Date },
            saved,
            loaded: { data: Buffer.isBuffer(loaded.data) && loaded.data.equals(data), token: loaded.token === lease.token, savedAt: loaded.savedAt instanceof Date },
          }));
        } finally {
          await knex.destroy();
        }
      })();`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', program], { cwd: path.resolve(__dirname, '..') });
    expect(JSON.parse(stdout)).toEqual({
      applied: MIGRATION_NAMES,
      schema: expectedAfter(MIGRATION_NAMES.length),
      undone: [...MIGRATION_NAMES].reverse(),
      emptied: expectedAfter(0),
      again: MIGRATION_NAMES,
      lease: { acquired: true, token: 'string', expiresAt: true },
      saved: 'saved',
      loaded: { data: true, token: true, savedAt: true },
    });
  });
});
