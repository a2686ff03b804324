import type { Knex } from 'knex';
import { toBuffer, toDate } from './values';

// Each session's saved WhatsApp login in `whatsapp_session_auth` (migration 003), written and
// deleted only under the session's current lease token (leases.ts): fenced writes.
//
// A worker whose lease lapsed (a partition, a stalled event loop) may still try to save when it
// comes back; by then another worker may hold the session and have saved a newer login. Its write
// must change nothing, or the next restore would bring back keys WhatsApp has since replaced. The
// token check and the write are one statement, with the lease row locked FOR SHARE: a takeover
// (an UPDATE of that row) either commits first, and the save sees the new token and is refused, or
// waits for the save's end, and its holder then restores what was saved.
//
// These functions never log: the callers log `stale_fencing_token` with what they know.

export type SaveResult = 'saved' | 'stale_fencing_token';

export interface AuthSnapshot {
  sessionId: string;
  workspaceId: string;
  /** The worker saving it: kept as `saved_by`. The token alone decides whether it may. */
  workerId: string;
  /** The lease token the worker holds the session under. */
  token: string;
  data: Buffer;
  /** Hex sha256 of `data`, computed by the caller (it has the bytes already; Postgres need not hash megabytes). */
  sha256: string;
}

export interface SavedAuth {
  data: Buffer;
  sha256: string;
  sizeBytes: number;
  /** The lease token it was written under. */
  token: string;
  savedAt: Date;
  savedBy: string | null;
}

export type AuthInfo = Omit<SavedAuth, 'data' | 'savedBy'>;

/**
 * Writes the snapshot only if `token` is the session's current lease token (the lease row locked
 * FOR SHARE in the same statement, so a takeover committing meanwhile wins) and not older than the
 * token of the snapshot already stored. Otherwise nothing changes and the answer is
 * `stale_fencing_token`.
 */
export async function saveAuth(knex: Knex, s: AuthSnapshot): Promise<SaveResult> {
  const result = await knex.raw<{ rows: { saved: boolean }[] }>(
    `WITH lease AS (
       SELECT token FROM whatsapp_session_leases
        WHERE session_id = ? AND token = ?::bigint
          FOR SHARE
     ), saved AS (
       INSERT INTO whatsapp_session_auth AS auth
              (session_id, workspace_id, data, size_bytes, sha256, fencing_token, saved_at, saved_by)
       SELECT ?, ?, ?::bytea, ?::integer, ?, lease.token, now(), ? FROM lease
       ON CONFLICT (session_id) DO UPDATE
          SET workspace_id = excluded.workspace_id, data = excluded.data, size_bytes = excluded.size_bytes,
              sha256 = excluded.sha256, fencing_token = excluded.fencing_token, saved_at = excluded.saved_at,
              saved_by = excluded.saved_by
        WHERE auth.fencing_token <= excluded.fencing_token
       RETURNING 1
     )
     SELECT EXISTS (SELECT 1 FROM saved) AS saved`,
    [s.sessionId, s.token, s.sessionId, s.workspaceId, s.data, s.data.length, s.sha256, s.workerId],
  );
  return result.rows[0]?.saved ? 'saved' : 'stale_fencing_token';
}

/** The session's saved login, or `null` when none is stored. */
export async function loadAuth(knex: Knex, sessionId: string): Promise<SavedAuth | null> {
  const result = await knex.raw<{ rows: (InfoRow & { data: Uint8Array; saved_by: string | null })[] }>(
    `SELECT data, sha256, size_bytes, fencing_token::text AS token, saved_at, saved_by
       FROM whatsapp_session_auth WHERE session_id = ?`,
    [sessionId],
  );
  const row = result.rows[0];
  return row ? { ...toInfo(row), data: toBuffer(row.data), savedBy: row.saved_by } : null;
}

/** What is stored for the session, without the bytes; `null` when nothing is. */
export async function authInfo(knex: Knex, sessionId: string): Promise<AuthInfo | null> {
  const result = await knex.raw<{ rows: InfoRow[] }>(
    `SELECT sha256, size_bytes, fencing_token::text AS token, saved_at
       FROM whatsapp_session_auth WHERE session_id = ?`,
    [sessionId],
  );
  const row = result.rows[0];
  return row ? toInfo(row) : null;
}

/**
 * Deletes the session's saved login (a real logout: the phone unlinked it), only with the current
 * lease token, like `saveAuth`. `absent` when nothing was stored; `stale_fencing_token` when the
 * token is not the current one, or the stored login was written under a newer token.
 */
export async function deleteAuth(knex: Knex, sessionId: string, token: string): Promise<'deleted' | 'absent' | 'stale_fencing_token'> {
  const result = await knex.raw<{ rows: { current: boolean; deleted: boolean; stored: boolean }[] }>(
    `WITH lease AS (
       SELECT token FROM whatsapp_session_leases
        WHERE session_id = ? AND token = ?::bigint
          FOR SHARE
     ), deleted AS (
       DELETE FROM whatsapp_session_auth AS auth USING lease
        WHERE auth.session_id = ? AND auth.fencing_token <= lease.token
       RETURNING 1
     )
     SELECT EXISTS (SELECT 1 FROM lease) AS current,
            EXISTS (SELECT 1 FROM deleted) AS deleted,
            EXISTS (SELECT 1 FROM whatsapp_session_auth WHERE session_id = ?) AS stored`,
    [sessionId, token, sessionId, sessionId],
  );
  const row = result.rows[0];
  if (!row?.current) return 'stale_fencing_token';
  if (row.deleted) return 'deleted';
  // `stored` is read from the statement's snapshot, before the delete: a row that is there and was
  // not deleted was written under a newer token.
  return row.stored ? 'stale_fencing_token' : 'absent';
}

interface InfoRow {
  sha256: string;
  size_bytes: number;
  token: string;
  saved_at: Date | string;
}

function toInfo(row: InfoRow): AuthInfo {
  return { sha256: row.sha256, sizeBytes: row.size_bytes, token: row.token, savedAt: toDate(row.saved_at) };
}
