import type { Knex } from 'knex';
import { SchemaMissingError } from '../errors';
import { ACCOUNTS_TABLE } from './accounts';

// The fleet's tables as the sync reads and writes them (migrations 003 and 004):
// `whatsapp_workers` (what the controller knows of each worker), `whatsapp_session_leases` (the
// worker's, read only) and `whatsapp_accounts.worker_id`. Every statement takes the run's pinned
// connection (`connection`), so one run uses one connection, as the single-worker sync does.

export const WORKERS_TABLE = 'whatsapp_workers';
export const LEASES_TABLE = 'whatsapp_session_leases';

/** One row of `whatsapp_workers`. */
export interface WorkerRow {
  workerId: string;
  draining: boolean;
  unreachableRuns: number;
  lastSeenAt: Date | null;
}

/** Every known worker. */
export async function readWorkerRows(knex: Knex, connection?: unknown): Promise<WorkerRow[]> {
  const result = await fleetSchema(
    on(knex.raw(`SELECT worker_id, draining, unreachable_runs, last_seen_at FROM ${WORKERS_TABLE} ORDER BY worker_id`), connection),
  );
  return (result.rows as Array<{ worker_id: string; draining: boolean; unreachable_runs: number; last_seen_at: Date | null }>).map((row) => ({
    workerId: row.worker_id,
    draining: row.draining,
    unreachableRuns: row.unreachable_runs,
    lastSeenAt: row.last_seen_at,
  }));
}

/** The leases, live or lapsed. `[]` when the table does not exist: only the Postgres auth store fills it. */
export async function readLeases(knex: Knex, connection?: unknown): Promise<Array<{ sessionId: string; workerId: string; expiresAt: Date }>> {
  try {
    const result = await on(knex.raw(`SELECT session_id, worker_id, expires_at FROM ${LEASES_TABLE}`), connection);
    return (result.rows as Array<{ session_id: string; worker_id: string; expires_at: Date }>).map((row) => ({
      sessionId: row.session_id,
      workerId: row.worker_id,
      expiresAt: new Date(row.expires_at),
    }));
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return [];
    throw error;
  }
}

/**
 * After a run's reads, in one statement each: the workers that answered are seen now (their
 * silent runs reset), the known ones that did not get one more silent run.
 */
export async function recordWorkerRuns(
  knex: Knex,
  seen: readonly string[],
  missed: readonly string[],
  connection?: unknown,
): Promise<void> {
  if (seen.length > 0) {
    await fleetSchema(
      on(
        knex.raw(
          `INSERT INTO ${WORKERS_TABLE} (worker_id, last_seen_at, unreachable_runs, updated_at)
           SELECT id, now(), 0, now() FROM unnest(?::text[]) AS id
           ON CONFLICT (worker_id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at, unreachable_runs = 0, updated_at = now()`,
          [[...seen]],
        ),
        connection,
      ),
    );
  }
  if (missed.length > 0) {
    await fleetSchema(
      on(
        knex.raw(`UPDATE ${WORKERS_TABLE} SET unreachable_runs = unreachable_runs + 1, updated_at = now() WHERE worker_id = ANY(?::text[])`, [
          [...missed],
        ]),
        connection,
      ),
    );
  }
}

/**
 * Records where each session runs, in one statement: only rows whose `worker_id` differs change,
 * and `updated_at` is left alone (it is the owning application's mark of a person's decision, which
 * the sync reads; where a session runs is no such decision).
 */
export async function recordAccountWorkers(
  knex: Knex,
  placed: ReadonlyArray<{ sessionId: string; workerId: string }>,
  connection?: unknown,
): Promise<number> {
  if (placed.length === 0) return 0;
  const result = await fleetSchema(
    on(
      knex.raw(
        `UPDATE ${ACCOUNTS_TABLE} AS a SET worker_id = r.worker_id
           FROM jsonb_to_recordset(?::jsonb) AS r(session_id text, worker_id text)
          WHERE a.session_id = r.session_id AND a.worker_id IS DISTINCT FROM r.worker_id`,
        [JSON.stringify(placed.map((p) => ({ session_id: p.sessionId, worker_id: p.workerId })))],
      ),
      connection,
    ),
  );
  return result.rowCount ?? 0;
}

/**
 * Marks a worker draining (since now, unless it already was) or ends it; a worker never seen yet
 * gets its row, so it is draining from its first answer. Returns whether it was draining before.
 */
export async function setDraining(knex: Knex, workerId: string, draining: boolean): Promise<{ wasDraining: boolean }> {
  const result = await fleetSchema(
    knex.raw(
      `WITH before AS (SELECT draining FROM ${WORKERS_TABLE} WHERE worker_id = ?)
       INSERT INTO ${WORKERS_TABLE} (worker_id, draining, draining_since, updated_at)
       VALUES (?, ?, CASE WHEN ? THEN now() END, now())
       ON CONFLICT (worker_id) DO UPDATE
          SET draining = EXCLUDED.draining,
              draining_since = CASE WHEN EXCLUDED.draining THEN COALESCE(${WORKERS_TABLE}.draining_since, now()) END,
              updated_at = now()
       RETURNING (SELECT draining FROM before) AS was_draining`,
      [workerId, workerId, draining, draining],
    ),
  );
  return { wasDraining: (result.rows as Array<{ was_draining: boolean | null }>)[0]?.was_draining === true };
}

function on<T extends Knex.Raw>(query: T, connection: unknown): T {
  return connection === undefined ? query : (query.connection(connection) as T);
}

/** A missing fleet table or column is a `SchemaMissingError`: the database predates migration 004. */
async function fleetSchema<T>(query: PromiseLike<T>): Promise<T> {
  try {
    return await query;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '42P01' || code === '42703') {
      throw new SchemaMissingError(`the fleet's tables are missing (${(error as Error).message}): run \`wa-sync migrate\` first`);
    }
    throw error;
  }
}
