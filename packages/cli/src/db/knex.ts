import fs from 'node:fs/promises';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type { DatabaseConfig } from '../config';
import { DatabaseUnavailableError, EmbeddedDatabaseLockedError, WaSyncError } from '../errors';
import { migrateToLatest } from '@wa-session-sync/shared/dist/db/migrations';
import { redact } from '../redact';

export { redact };

/** An open database: the knex instance and how to give everything back. */
export interface Database {
  knex: Knex;
  config: DatabaseConfig;
  /** True for the embedded PGlite (one connection; its file lock is the sync's mutex). */
  embedded: boolean;
  /** Migrations applied while opening (the embedded database migrates itself). */
  migrated: string[];
  close(): Promise<void>;
}

/**
 * Opens the configured database and proves it answers (`select 1`), so a wrong host fails
 * here with a `DatabaseUnavailableError` naming `host:port/database`, never the password.
 * The embedded database is locked for this process first and migrated to the latest schema
 * (it is ours alone); a Postgres server is migrated only by `wa-sync migrate`.
 */
export async function openDatabase(config: DatabaseConfig, options: OpenOptions = {}): Promise<Database> {
  return config.kind === 'postgres' ? openPostgres(config, options) : openEmbedded(config);
}

export interface OpenOptions {
  /**
   * Postgres's `statement_timeout` for every statement of the connection: the sync's run deadline,
   * so that a statement waiting on a row someone else has locked cannot outlive the run.
   */
  statementTimeoutMs?: number;
}

/** knex prints pool errors with stacks on its own; ours are reported once, as one line. */
const SILENT = { warn() {}, error() {}, debug() {}, deprecate() {} };

/**
 * knex puts the statement in front of a failed query's message (`UPDATE ... - <why>`): with
 * `compileSqlOnError: false` (so no bound value, a phone number, a metadata patch, is ever written
 * into it) and this listener, the message is the driver's own again, and the one error line of a
 * failed run says why (`updates refused by ...`), not a 10-line statement.
 */
function withDriverMessages(knex: Knex): Knex {
  knex.on('query-error', (error: unknown, query: { sql?: unknown }) => {
    const err = error as { message?: unknown } | null;
    const prefix = `${String(query?.sql)} - `;
    if (typeof err?.message === 'string' && err.message.startsWith(prefix)) err.message = err.message.slice(prefix.length);
  });
  return knex;
}

async function openPostgres(config: Extract<DatabaseConfig, { kind: 'postgres' }>, options: OpenOptions): Promise<Database> {
  const knex = withDriverMessages(knexFactory({
    client: 'pg',
    connection: {
      connectionString: config.url,
      connectionTimeoutMillis: 5_000,
      application_name: 'wa-sync',
      ...(options.statementTimeoutMs === undefined ? {} : { statement_timeout: options.statementTimeoutMs }),
    },
    // One connection pinned for the advisory lock, one for reads and the write transaction.
    pool: { min: 0, max: 2 },
    acquireConnectionTimeout: 10_000,
    // Saves knex's `select version()` round trip on connect; our SQL needs Postgres 13+.
    version: '13.0',
    log: SILENT,
    compileSqlOnError: false,
  }));
  try {
    await knex.raw('select 1');
  } catch (error) {
    await knex.destroy().catch(() => undefined);
    throw new DatabaseUnavailableError(`cannot reach the database at ${config.label}: ${describeDbError(error, config.url)}`);
  }
  return { knex, config, embedded: false, migrated: [], close: () => knex.destroy() };
}

/**
 * Makes `dir` and everything in it its owner's alone: folders 0700, files 0600. PGlite writes its
 * files through Emscripten, which sets each file's mode itself (0666, and 0777 folders, from the
 * initial database it unpacks) whatever the process's umask; `chmod` is the only way to a private
 * folder. The folder itself is 0700 before PGlite starts, so nothing PGlite makes during a run is
 * reachable by anyone else even before this walk corrects its mode.
 */
async function makePrivate(dir: string): Promise<void> {
  await fs.chmod(dir, 0o700);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const where = path.join(dir, entry.name);
    if (entry.isDirectory()) await makePrivate(where);
    else if (entry.isFile()) await fs.chmod(where, 0o600);
  }
}

/** Where the embedded database's lock holder records its start (`{since, pid}`), beside the lock. */
function holderFile(dataDir: string): string {
  return `${dataDir}.lock-holder`;
}

/** The start and pid the embedded database's lock holder recorded; `null` when unreadable. */
async function readHolder(dataDir: string): Promise<{ since: Date; pid: number } | null> {
  try {
    const { since, pid } = JSON.parse(await fs.readFile(holderFile(dataDir), 'utf8')) as { since?: unknown; pid?: unknown };
    const at = typeof since === 'string' ? new Date(since) : null;
    return at && !Number.isNaN(at.getTime()) && typeof pid === 'number' ? { since: at, pid } : null;
  } catch {
    return null;
  }
}

async function openEmbedded(config: Extract<DatabaseConfig, { kind: 'embedded' }>): Promise<Database> {
  await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask and leaves an existing folder as it is.
  await fs.chmod(config.dataDir, 0o700);
  // Loaded only here, like PGlite below: a run against a real Postgres never needs them.
  const { lock } = require('proper-lockfile') as typeof import('proper-lockfile');
  let release: () => Promise<void>;
  try {
    // The lock file sits next to the data folder; proper-lockfile refreshes its mtime while we
    // run, so a killed process's lock turns stale and is taken over after `stale` ms. PGlite's
    // start blocks the event loop for seconds on a slow machine, hence the generous margin.
    release = await lock(config.dataDir, {
      lockfilePath: `${config.dataDir}.lock`,
      stale: 30_000,
      update: 5_000,
      retries: 0,
      realpath: false,
      // The default throws from a timer (a crash); a warning says it without losing the run.
      onCompromised: (error) =>
        process.emitWarning(`the embedded database lock at ${config.dataDir}.lock was compromised: ${error.message}`),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new EmbeddedDatabaseLockedError(config.dataDir, await readHolder(config.dataDir));
    }
    throw new DatabaseUnavailableError(`cannot lock the embedded database at ${config.dataDir}: ${(error as Error).message}`);
  }
  // Written after the lock is ours: a killed holder's record is overwritten by the next holder.
  await fs
    .writeFile(holderFile(config.dataDir), JSON.stringify({ since: new Date().toISOString(), pid: process.pid }), { mode: 0o600 })
    .catch(() => undefined);
  const { default: ClientPgLite } = await import('knex-pglite');
  const knex = withDriverMessages(
    knexFactory({ client: ClientPgLite, dialect: 'postgres', connection: { filename: config.dataDir }, log: SILENT, compileSqlOnError: false }),
  );
  const close = async () => {
    try {
      await knex.destroy();
      await makePrivate(config.dataDir);
    } finally {
      await fs.rm(holderFile(config.dataDir), { force: true }).catch(() => undefined);
      await release().catch(() => undefined);
    }
  };
  let migrated: string[];
  try {
    migrated = await migrateToLatest(knex);
    await makePrivate(config.dataDir);
  } catch (error) {
    await close();
    throw new DatabaseUnavailableError(`cannot open the embedded database at ${config.dataDir}: ${(error as Error).message}`);
  }
  return { knex, config, embedded: true, migrated, close };
}

/**
 * A failure of the database in the middle of a run (connection lost, statement refused) as a
 * `DatabaseUnavailableError` naming the database, never its password; our own errors pass.
 */
export function asDatabaseError(error: unknown, config: DatabaseConfig): Error {
  if (error instanceof WaSyncError) return error;
  const url = config.kind === 'postgres' ? config.url : '';
  return new DatabaseUnavailableError(`the database at ${config.label} failed: ${describeDbError(error, url)}`, { cause: error });
}

/** The driver's message with any trace of the connection string's password removed. */
export function describeDbError(error: unknown, url: string): string {
  const err = error as NodeJS.ErrnoException & { errors?: unknown[] };
  let message = err?.code && !err.message ? err.code : String(err?.message ?? error);
  if (!message && Array.isArray(err?.errors)) message = err.errors.map((e) => String((e as Error).message)).join('; ');
  return redact(message, url) || 'unknown error';
}
