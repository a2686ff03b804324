import knexFactory, { type Knex } from 'knex';
import { WorkerError } from '../errors';
import { errorMessage } from '../util';

/** WHATSAPP_AUTH_STORE=postgres and the database cannot be used: the worker does not start (exit 1). */
export class AuthStoreUnavailableError extends WorkerError {
  constructor(message: string) {
    super('auth_store_unavailable', message, 500);
  }
}

/** `host:port/database` of a Postgres URL: what logs and errors name, never the user or the password. */
export function databaseLabel(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname || '/'}`;
  } catch {
    return 'the configured database';
  }
}

/** The tables WHATSAPP_AUTH_STORE=postgres needs, created by `wa-sync migrate`. */
const TABLES = ['whatsapp_session_leases', 'whatsapp_session_auth'];

/**
 * Opens the worker's pool on the auth store and proves it usable: it answers, and `wa-sync
 * migrate` has made its tables (the worker never migrates: one command does, before any worker
 * starts). Errors name `host:port/database`, never the password.
 */
export async function openAuthDatabase(url: string, workerId: string): Promise<Knex> {
  const label = databaseLabel(url);
  const knex = knexFactory({
    client: 'pg',
    connection: { connectionString: url, connectionTimeoutMillis: 5000, application_name: `wa-worker ${workerId}`.slice(0, 63) },
    // The renewal, a claim or two, and a few saves at once; a pool this small also bounds what a
    // hung database can hold up.
    pool: { min: 0, max: 4 },
    acquireConnectionTimeout: 5000,
    // Saves knex's `select version()` round trip on connect; the SQL needs Postgres 13+.
    version: '13.0',
    log: { warn() {}, error() {}, debug() {}, deprecate() {} },
    // No bound value (a login's bytes) is ever written into an error message.
    compileSqlOnError: false,
  });
  try {
    await knex.raw('select 1');
  } catch (error) {
    await knex.destroy().catch(() => undefined);
    throw new AuthStoreUnavailableError(`WHATSAPP_AUTH_STORE=postgres: cannot reach the database at ${label}: ${redactUrl(errorMessage(error), url)}`);
  }
  const found = await knex
    .raw<{ rows: Array<{ name: string }> }>(`select c.relname as name from pg_class c where c.relname = any(?) and pg_table_is_visible(c.oid)`, [TABLES])
    .then((r) => new Set(r.rows.map((row) => row.name)));
  const missing = TABLES.filter((table) => !found.has(table));
  if (missing.length > 0) {
    await knex.destroy().catch(() => undefined);
    throw new AuthStoreUnavailableError(
      `WHATSAPP_AUTH_STORE=postgres: the database at ${label} has no ${missing.join(', ')}: run \`wa-sync migrate\` with the same DATABASE_URL first`,
    );
  }
  return knex;
}

/** A driver's message may quote the URL; the password never leaves. */
function redactUrl(message: string, url: string): string {
  let out = message.split(url).join('<DATABASE_URL>');
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password) out = out.split(password).join('***');
  } catch {
    // Not a URL: nothing more to hide than the whole.
  }
  return out;
}
