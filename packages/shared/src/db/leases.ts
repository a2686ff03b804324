import type { Knex } from 'knex';
import { toDate } from './values';

// One lease per session in `whatsapp_session_leases` (migration 003): the worker that may run the
// session, until when, and the fencing token of that acquisition.
//
// Every time is the database's `now()`, never a worker's clock: the workers' clocks may disagree,
// the database's is the one they share. (`now()` is the start of the transaction: these functions
// are meant to run on their own, in autocommit, not inside a long transaction.)
//
// Tokens are `bigint` in Postgres and decimal strings here: a JavaScript number loses integers past
// 2^53, and a token must compare exactly.

export type AcquireResult =
  | { acquired: true; token: string; expiresAt: Date }
  | { acquired: false; holder: string; token: string; expiresAt: Date };

export interface AcquireLease {
  sessionId: string;
  workspaceId: string;
  workerId: string;
  /** How long the lease lasts from the database's `now()` unless renewed (`WHATSAPP_LEASE_TTL_SECONDS`). */
  ttlSeconds: number;
}

export interface LeaseRow {
  sessionId: string;
  workspaceId: string;
  workerId: string;
  token: string;
  expiresAt: Date;
  /** `expires_at` is still ahead of the database's `now()`. */
  live: boolean;
}

/**
 * Takes the session's lease if it is free, expired, or already this worker's (a new, larger token
 * then: a worker that starts a session again starts a new acquisition, and its older writes turn
 * stale). One statement: the insert, or the update of an expired or own lease, and, when refused,
 * the holder's row read in the same statement.
 *
 * The token is drawn from `whatsapp_session_lease_token_seq` on every attempt, refused ones too:
 * tokens only grow, gaps mean nothing.
 */
export async function acquireLease(knex: Knex, a: AcquireLease): Promise<AcquireResult> {
  const ttl = checkTtl(a.ttlSeconds);
  // A refused attempt reads the holder from the statement's snapshot. When the holder's insert
  // committed after that snapshot was taken (two workers acquiring a new session at once: ours
  // waited on theirs, then conflicted), the row is not in it and the statement returns nothing; the
  // next attempt, a new statement with a new snapshot, sees it. Rows are never deleted by this
  // module, so a second empty answer means someone deletes leases by hand.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const result = await knex.raw<{ rows: AcquireRow[] }>(ACQUIRE_SQL, [
      a.sessionId,
      a.workspaceId,
      a.workerId,
      ttl,
      a.sessionId,
    ]);
    const row = result.rows[0];
    if (!row) continue;
    return row.acquired
      ? { acquired: true, token: row.token, expiresAt: toDate(row.expires_at) }
      : { acquired: false, holder: row.worker_id, token: row.token, expiresAt: toDate(row.expires_at) };
  }
  throw new Error(
    `the lease of session ${a.sessionId} was neither taken nor found held in 3 attempts: is something deleting rows of whatsapp_session_leases?`,
  );
}

interface AcquireRow {
  acquired: boolean;
  worker_id: string;
  token: string;
  expires_at: Date | string;
}

const ACQUIRE_SQL = `
  WITH taken AS (
    INSERT INTO whatsapp_session_leases AS lease
           (session_id, workspace_id, worker_id, token, acquired_at, renewed_at, expires_at)
    VALUES (?, ?, ?, nextval('whatsapp_session_lease_token_seq'), now(), now(),
            now() + make_interval(secs => ?::double precision))
    ON CONFLICT (session_id) DO UPDATE
       SET workspace_id = excluded.workspace_id, worker_id = excluded.worker_id, token = excluded.token,
           acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at, expires_at = excluded.expires_at
     WHERE lease.expires_at <= now() OR lease.worker_id = excluded.worker_id
    RETURNING true AS acquired, worker_id, token::text AS token, expires_at
  )
  SELECT acquired, worker_id, token, expires_at FROM taken
  UNION ALL
  SELECT false, worker_id, token::text, expires_at
    FROM whatsapp_session_leases
   WHERE session_id = ? AND NOT EXISTS (SELECT 1 FROM taken)`;

/**
 * Renews, in one statement, the leases a worker holds; returns the session ids renewed. A lease is
 * renewed only if it is still this worker's, with this token, and not yet expired: one that lapsed
 * may already be another worker's, and one that lapsed unnoticed must be acquired again (a new
 * token), never revived. An empty list costs no statement.
 */
export async function renewLeases(
  knex: Knex,
  workerId: string,
  leases: ReadonlyArray<{ sessionId: string; token: string }>,
  ttlSeconds: number,
): Promise<Set<string>> {
  const ttl = checkTtl(ttlSeconds);
  if (leases.length === 0) return new Set();
  const result = await knex.raw<{ rows: { session_id: string }[] }>(
    `UPDATE whatsapp_session_leases AS lease
        SET renewed_at = now(), expires_at = now() + make_interval(secs => ?::double precision)
       FROM unnest(?::text[], ?::bigint[]) AS held(session_id, token)
      WHERE lease.session_id = held.session_id AND lease.token = held.token
        AND lease.worker_id = ? AND lease.expires_at > now()
      RETURNING lease.session_id`,
    [ttl, leases.map((lease) => lease.sessionId), leases.map((lease) => lease.token), workerId],
  );
  return new Set(result.rows.map((row) => row.session_id));
}

/**
 * Ends the lease now (`expires_at` = the database's `now()`, or earlier if it had already lapsed),
 * only with the current token; returns whether the token was the current one. The row stays: its
 * token is the one the next holder's must exceed.
 */
export async function releaseLease(knex: Knex, sessionId: string, token: string): Promise<boolean> {
  const result = await knex.raw<{ rowCount: number | null }>(
    `UPDATE whatsapp_session_leases SET expires_at = least(expires_at, now())
      WHERE session_id = ? AND token = ?::bigint`,
    [sessionId, token],
  );
  return (result.rowCount ?? 0) > 0;
}

/** Every lease row (a worker's only, with `workerId`), live or lapsed, by session id. */
export async function listLeases(knex: Knex, filter: { workerId?: string } = {}): Promise<LeaseRow[]> {
  const byWorker = filter.workerId !== undefined;
  const result = await knex.raw<{
    rows: { session_id: string; workspace_id: string; worker_id: string; token: string; expires_at: Date | string; live: boolean }[];
  }>(
    `SELECT session_id, workspace_id, worker_id, token::text AS token, expires_at, expires_at > now() AS live
       FROM whatsapp_session_leases
      ${byWorker ? 'WHERE worker_id = ?' : ''}
      ORDER BY session_id`,
    byWorker ? [filter.workerId as string] : [],
  );
  return result.rows.map((row) => ({
    sessionId: row.session_id,
    workspaceId: row.workspace_id,
    workerId: row.worker_id,
    token: row.token,
    expiresAt: toDate(row.expires_at),
    live: row.live,
  }));
}

function checkTtl(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`a lease's ttlSeconds must be a positive number of seconds, got ${ttlSeconds}`);
  }
  return ttlSeconds;
}
