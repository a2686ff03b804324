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

const NO_PLANNER_KEYS: Record<string, unknown> = Object.freeze({});

/**
 * Accounts per page of {@link readActiveAccountPages}. Measured at 100,000 accounts: one statement
 * kept every row alive at once (~40 MB of objects). A small page is planned and dropped before
 * the young generation fills, so the rows without a change die young: promoted to the old
 * generation during the read 34 MB with pages of 10,000, 12-13 MB with 1,000-2,500 (GC pauses
 * 280 -> 40-110 ms); peak RSS with 2,000 157-161 MB, with 10,000 161-178 MB, same CPU time.
 */
export const ACCOUNTS_PAGE_SIZE = 2_000;

/**
 * The active accounts (is_active, not deleted, provider `webjs`), optionally of one workspace,
 * in id order, each with its row version (`xmin`) so the write can skip rows changed meanwhile;
 * `after`: only ids above it, at most `limit` rows.
 * `updated_at` is read as ISO-8601 UTC with milliseconds, the precision the sync stamps.
 * A row whose `metadata` is not a JSON object also brings its whole value (`invalid_metadata`),
 * for the audit line of the write that replaces it; every other row brings a null there.
 *
 * Measured at 100,000 rows (Postgres 15): building the planner's object only for rows that hold
 * one of its keys (`?|`; most rows hold none) took the query from 355 to ~130 ms, and ordering by
 * the bigint (the primary key's index) instead of the `id::text` output column (an external merge
 * sort on disk) from ~200 to ~65 ms.
 */
function selectActiveAccounts(
  workspaceId: string | undefined,
  page?: { after: string | undefined; limit: number },
  withWorker = false,
): { sql: string; bindings: (string | number)[] } {
  const bindings: (string | number)[] = [];
  let where = '';
  if (workspaceId !== undefined) {
    where += ' AND workspace_id = ?';
    bindings.push(workspaceId);
  }
  if (page?.after !== undefined) {
    where += ' AND id > ?::bigint';
    bindings.push(page.after);
  }
  if (page) bindings.push(page.limit);
  return {
    sql: `SELECT id::text AS id, session_id, workspace_id, phone_number, status,
                 CASE WHEN metadata \\?| array[${PLANNER_KEYS.map((key) => `'${key}'`).join(', ')}]
                      THEN jsonb_strip_nulls(jsonb_build_object(${PLANNER_KEYS.map((key) => `'${key}', metadata->'${key}'`).join(', ')})) END AS metadata,
                 to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at,
                 xmin::text AS version,${withWorker ? ' worker_id,' : ''}
                 CASE WHEN jsonb_typeof(metadata) = 'object' THEN NULL ELSE jsonb_build_object('value', metadata) END AS invalid_metadata
            FROM ${ACCOUNTS_TABLE}
           WHERE is_active AND deleted_at IS NULL AND provider_type = 'webjs'${where}
           ORDER BY ${ACCOUNTS_TABLE}.id${page ? ' LIMIT ?' : ''}`,
    bindings,
  };
}

/** All the active accounts in one statement (see {@link selectActiveAccounts}). */
export async function readActiveAccounts(
  knex: Knex,
  workspaceId: string | undefined,
  connection?: unknown,
): Promise<Account[]> {
  const { sql, bindings } = selectActiveAccounts(workspaceId);
  return toAccounts((await schemaChecked(on(knex.raw(sql, bindings), connection))).rows);
}

/** The active accounts a page at a time. */
export interface AccountPages {
  /** The next page (at most `pageSize` accounts, in id order); `null` after the last. */
  next(): Promise<Account[] | null>;
  /** Waits for a page still being read (its errors are the run's already); safe at any time. */
  close(): Promise<void>;
}

/**
 * Reads the active accounts (see {@link selectActiveAccounts}) a page at a time on `connection`,
 * by id (keyset: a row is read exactly once, whatever happens to the others meanwhile). The first
 * page is read at once; each page handed out has the next one already being read, so the
 * database works while a page is planned.
 *
 * Each page is a statement of its own, so the pages are not one snapshot: a row changed after
 * its page was read is a conflict at the write (its `xmin` moved), as with one statement; what
 * pages cannot show is the accounts as they all were at one instant (a session id moved from a
 * row already read to one not read yet is seen twice: the planner leaves the second row alone).
 */
export function readActiveAccountPages(
  knex: Knex,
  workspaceId: string | undefined,
  connection: unknown,
  pageSize = ACCOUNTS_PAGE_SIZE,
  /** Read `worker_id` too (a fleet's run: the column comes with migration 004). */
  withWorker = false,
): AccountPages {
  const read = (after: string | undefined): Promise<Account[]> => {
    const { sql, bindings } = selectActiveAccounts(workspaceId, { after, limit: pageSize }, withWorker);
    const page = schemaChecked(on(knex.raw(sql, bindings), connection)).then((result) => toAccounts(result.rows));
    // Handled when `next` hands it out; a run that fails first waits for it in `close`.
    page.catch(() => undefined);
    return page;
  };
  let pending: Promise<Account[]> | null = read(undefined);
  return {
    async next() {
      if (!pending) return null;
      const page = await pending;
      pending = page.length === pageSize ? read(page[page.length - 1].id) : null;
      return page.length > 0 ? page : null;
    },
    async close() {
      await pending?.catch(() => undefined);
      pending = null;
    },
  };
}

function on<T extends Knex.Raw>(query: T, connection: unknown): T {
  return connection === undefined ? query : (query.connection(connection) as T);
}

/** A missing table is a `SchemaMissingError`: the database is there, the schema is not. */
async function schemaChecked<T>(query: PromiseLike<T>): Promise<T> {
  try {
    return await query;
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') {
      throw new SchemaMissingError(`table ${ACCOUNTS_TABLE} does not exist: run \`wa-sync migrate\` first`);
    }
    throw error;
  }
}

/**
 * Normalised in place (no copies). The check constraint keeps the vocabulary; anything else
 * would be a schema we do not own. A row without planner keys shares one frozen empty object
 * (the sync only reads `metadata`): 100,000 rows, 100,000 objects fewer.
 */
function toAccounts(rows: AccountRow[]): Account[] {
  for (const row of rows) {
    if (!isSessionStatus(row.status)) row.status = 'disconnected';
    if (!row.metadata || typeof row.metadata !== 'object') row.metadata = NO_PLANNER_KEYS;
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
