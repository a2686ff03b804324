import type { Database } from './knex';

/** Advisory lock key: the first 8 bytes of sha1('wa-sync:sync-sessions') as a signed bigint. */
export const SYNC_LOCK_KEY = '-9085698930595249049';

export interface SyncLock {
  /**
   * The pinned connection holding the lock; the run reads and writes on it too, so one run
   * uses one connection. `undefined` with the embedded database (knex's only connection).
   */
  connection: unknown;
  release(): Promise<void>;
}

/**
 * Takes the sync's mutex, or returns `null` when another run holds it.
 *
 * On Postgres it is `pg_try_advisory_lock` on a connection pinned for the whole run: the lock
 * belongs to that session, so a killed run frees it the moment its connection drops (no stale
 * 24-hour mutex). The embedded database is already exclusive to this process (file lock).
 */
export async function acquireSyncLock(db: Database): Promise<SyncLock | null> {
  if (db.embedded) return { connection: undefined, release: async () => undefined };
  const { knex } = db;
  const connection: unknown = await knex.client.acquireConnection();
  let held = false;
  try {
    const result = await knex.raw('SELECT pg_try_advisory_lock(?::bigint) AS locked', [SYNC_LOCK_KEY]).connection(connection);
    held = result.rows[0]?.locked === true;
  } finally {
    if (!held) await knex.client.releaseConnection(connection);
  }
  if (!held) return null;
  return {
    connection,
    release: async () => {
      try {
        await knex.raw('SELECT pg_advisory_unlock(?::bigint)', [SYNC_LOCK_KEY]).connection(connection);
      } finally {
        await knex.client.releaseConnection(connection);
      }
    },
  };
}

