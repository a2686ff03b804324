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

/** Who holds the sync lock, when it can be seen. */
export interface LockHolder {
  /** When the holder's connection (its run) began. */
  since: Date;
  /** The holder's process: the Postgres backend's pid, or the wa-sync process of the embedded file lock. */
  pid: number;
}

/**
 * The session holding the sync's advisory lock, from `pg_locks` (the key split into its two
 * 32-bit halves as Postgres stores it) and that session's `backend_start`: a run connects once,
 * at its start, so the connection's age is the run's. `null` when no one holds it any more, or
 * the holder is another role's session that this role may not see (`backend_start` is then null:
 * the run is counted as an ordinary overlap).
 */
export async function syncLockHolder(db: Database): Promise<LockHolder | null> {
  const result = await db.knex.raw(
    `SELECT a.pid, extract(epoch FROM clock_timestamp() - a.backend_start) * 1000 AS age_ms
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid::bigint = ((?::bigint >> 32) & 4294967295)
        AND l.objid::bigint = (?::bigint & 4294967295)
        AND a.backend_start IS NOT NULL`,
    [SYNC_LOCK_KEY, SYNC_LOCK_KEY],
  );
  // The age by the server's clock, placed on ours: the two clocks may differ.
  const row = (result.rows as { pid: number; age_ms: string | number }[])[0];
  return row ? { pid: row.pid, since: new Date(Date.now() - Number(row.age_ms)) } : null;
}
