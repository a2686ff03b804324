import type { Knex } from 'knex';
import { isSessionStatus } from '@wa-session-sync/shared';
import type { Account, RowWrite } from '../sync/model';
import { SchemaMissingError } from '../errors';

export const ACCOUNTS_TABLE = 'whatsapp_accounts';

interface AccountRow {
  id: string;
  session_id: string;
  workspace_id: string;
  phone_number: string | null;
  status: string;
  metadata: Record<string, unknown> | null;
  updated_at: string;
  version: string;
  invalid_metadata: { value: unknown } | null;
}

/**
 * The metadata keys the planner reads. Only these travel to the CLI: the rest of `metadata`
 * (owned by the application, possibly large) stays in the database, and the write merges
 * into it there with `||`.
 */
export const PLANNER_KEYS = [
  'sync_written_at',
  'sync_revive',
  'reconnect_attempts',
  'next_reconnect_at',
  'reconnect_given_up_at',
] as const;

/**
 * The active accounts (is_active, not deleted, provider `webjs`), optionally of one workspace,
 * each with its row version (`xmin`) so the write can skip rows changed meanwhile.
 * `updated_at` is read as ISO-8601 UTC with milliseconds, the precision the sync stamps.
 * A row whose `metadata` is not a JSON object also brings its whole value (`invalid_metadata`),
 * for the audit line of the write that replaces it; every other row brings a null there.
 */
export async function readActiveAccounts(
  knex: Knex,
  workspaceId: string | undefined,
  connection?: unknown,
): Promise<Account[]> {
  const where = workspaceId === undefined ? '' : 'AND workspace_id = ?';
  let rows: AccountRow[];
  try {
    const query = knex.raw(
      `SELECT id::text AS id, session_id, workspace_id, phone_number, status,
              jsonb_strip_nulls(jsonb_build_object(${PLANNER_KEYS.map((key) => `'${key}', metadata->'${key}'`).join(', ')})) AS metadata,
              to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at,
              xmin::text AS version,
              CASE WHEN jsonb_typeof(metadata) = 'object' THEN NULL ELSE jsonb_build_object('value', metadata) END AS invalid_metadata
         FROM ${ACCOUNTS_TABLE}
        WHERE is_active AND deleted_at IS NULL AND provider_type = 'webjs' ${where}
        ORDER BY id`,
      workspaceId === undefined ? [] : [workspaceId],
    );
    rows = (await (connection === undefined ? query : query.connection(connection))).rows;
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') {
      throw new SchemaMissingError(`table ${ACCOUNTS_TABLE} does not exist: run \`wa-sync migrate\` first`);
    }
    throw error;
  }
  // Normalised in place (10,000 rows: no copies). The check constraint keeps the vocabulary;
  // anything else would be a schema we do not own.
  for (const row of rows) {
    if (!isSessionStatus(row.status)) row.status = 'disconnected';
    if (!row.metadata || typeof row.metadata !== 'object') row.metadata = {};
  }
  return rows as Account[];
}

/** One row to write: the account's id and the version it was read at. */
export interface AccountWrite extends RowWrite {
  id: string;
  version: string;
}

/**
 * Writes every row of a run in ONE statement (atomic: one implicit transaction): `metadata || patch`
 * (merged, never replaced; a `metadata` that is not a JSON object, which `||` would turn into an
 * array, becomes an object holding the patch), `phone_number` only where the row has none,
 * `updated_at` = `now` (the value the planner stamped into `metadata.sync_written_at`). Rows whose
 * `xmin` moved since they were read were changed by someone else meanwhile and are left alone.
 * Returns the ids written.
 */
export async function writeAccounts(
  knex: Knex | Knex.Transaction,
  writes: AccountWrite[],
  now: Date,
  connection?: unknown,
): Promise<Set<string>> {
  if (writes.length === 0) return new Set();
  const records = writes.map((write) => ({
    id: write.id,
    version: write.version,
    status: write.status,
    phone_number: write.phone_number,
    patch: write.patch,
  }));
  const query = knex.raw(
    `UPDATE ${ACCOUNTS_TABLE} AS a
        SET status = r.status,
            phone_number = COALESCE(NULLIF(a.phone_number, ''), r.phone_number),
            metadata = CASE WHEN jsonb_typeof(a.metadata) = 'object' THEN a.metadata ELSE '{}'::jsonb END || r.patch,
            updated_at = ?::timestamptz
       FROM jsonb_to_recordset(?::jsonb) AS r(id bigint, version text, status text, phone_number text, patch jsonb)
      WHERE a.id = r.id AND a.xmin::text = r.version
  RETURNING a.id::text AS id`,
    [now.toISOString(), JSON.stringify(records)],
  );
  const result = await (connection === undefined ? query : query.connection(connection));
  return new Set((result.rows as { id: string }[]).map((row) => row.id));
}
