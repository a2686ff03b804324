import knexFactory, { type Knex } from 'knex';
import { createTestDatabase, waitFor, type TestDatabase } from '@wa-session-sync/test-support';
import { migrateToLatest } from '../src/db/migrations';

/** A fresh database of its own (test-support's), migrated to the latest schema, with a knex on it. */
export interface StoreDatabase {
  db: TestDatabase;
  knex: Knex;
  close(): Promise<void>;
}

export async function migratedDatabase(prefix: string): Promise<StoreDatabase> {
  const db = await createTestDatabase({ prefix });
  const knex = openKnex(db.url);
  try {
    await migrateToLatest(knex);
  } catch (error) {
    await knex.destroy();
    await db.drop();
    throw error;
  }
  return {
    db,
    knex,
    close: async () => {
      await knex.destroy();
      await db.drop();
    },
  };
}

/** A knex on `url` as the worker and the CLI open one: node-postgres, a small pool. */
export function openKnex(url: string): Knex {
  return knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 4 } });
}

/** Counts the statements `knex` sends while `run` runs (knex's `query` event: one per statement). */
export async function statementsOf<T>(knex: Knex, run: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = [];
  const listener = (query: { sql: string }) => statements.push(query.sql);
  knex.on('query', listener);
  try {
    return { result: await run(), statements };
  } finally {
    knex.off('query', listener);
  }
}

/** Resolves once some session of `db`'s database waits on a lock (a statement blocked by a test's transaction). */
export async function someoneWaitsOnALock(db: TestDatabase): Promise<void> {
  await waitFor(
    async () =>
      (
        await db.query<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        )
      )[0].waiting > 0,
    'a statement to wait on the row the test holds locked',
    { timeoutMs: 10_000, intervalMs: 10 },
  );
}

/** The lease row as stored, for checks that nothing else changed. */
export async function leaseRow(db: TestDatabase, sessionId: string) {
  const rows = await db.query(`SELECT *, token::text AS token FROM whatsapp_session_leases WHERE session_id = $1`, [sessionId]);
  return rows[0] ?? null;
}
