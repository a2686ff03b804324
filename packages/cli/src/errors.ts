/** In the global symbol registry, so that every copy of this module marks its errors alike. */
const WA_SYNC_ERROR: unique symbol = Symbol.for('@wa-session-sync/cli.WaSyncError') as never;

/**
 * Every failure the CLI can explain. Each class has a stable `code` (for logs and `--json`)
 * and the process exit code the contract gives it: 1 = could not sync, 2 = bad arguments
 * or configuration. Messages never contain an API key or a database password.
 */
export abstract class WaSyncError extends Error {
  abstract readonly code: string;
  abstract readonly exitCode: 1 | 2;
  /** See {@link isWaSyncError}. */
  readonly [WA_SYNC_ERROR] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Whether `error` is a {@link WaSyncError}, made by this copy of the module or another one:
 * `wa-sync` runs as two bundles (packages/cli/scripts/bundle.js), the start and the handlers,
 * and each holds its own copy of this module, so `instanceof` alone would not recognise, in the
 * start, an error a handler threw.
 */
export function isWaSyncError(error: unknown): error is WaSyncError {
  return error instanceof WaSyncError || (typeof error === 'object' && error !== null && (error as { [WA_SYNC_ERROR]?: unknown })[WA_SYNC_ERROR] === true);
}

/** Thrown while resolving flags and environment into a `SyncConfig` (bad `--workspace`, bad URL). */
export class ConfigError extends WaSyncError {
  readonly code = 'CONFIG_INVALID';
  readonly exitCode = 2;
}

/** Thrown before a run sends or writes anything when `WA_SYNC_AUDIT_LOG` cannot be appended to. */
export class AuditLogError extends WaSyncError {
  readonly code = 'AUDIT_LOG_UNWRITABLE';
  readonly exitCode = 2;
}

/** Thrown when the worker's `/health` is unreachable, times out, answers non-2xx or malformed JSON. */
export class WorkerUnavailableError extends WaSyncError {
  readonly code = 'WORKER_UNAVAILABLE';
  readonly exitCode = 1;
}

/** Thrown when `/api/sessions` cannot be read as a whole (the sync then writes nothing). */
export class WorkerResponseError extends WaSyncError {
  readonly code = 'WORKER_BAD_RESPONSE';
  readonly exitCode = 1;
}

/** Thrown when the database cannot be reached; the message names host:port/database only. */
export class DatabaseUnavailableError extends WaSyncError {
  readonly code = 'DATABASE_UNAVAILABLE';
  readonly exitCode = 1;
}

/** Thrown when `whatsapp_accounts` does not exist on a `DATABASE_URL` database: run `wa-sync migrate`. */
export class SchemaMissingError extends WaSyncError {
  readonly code = 'SCHEMA_MISSING';
  readonly exitCode = 1;
}

/**
 * Thrown when another wa-sync process holds the embedded database's file lock.
 * `sync-sessions` reports it as a skipped run (exit 0), other commands fail with exit 1.
 */
export class EmbeddedDatabaseLockedError extends WaSyncError {
  readonly code = 'EMBEDDED_DATABASE_LOCKED';
  readonly exitCode = 1;
  constructor(
    readonly dataDir: string,
    /** When the holding process took the lock and its pid, when it recorded them. */
    readonly holder: { since: Date; pid: number } | null = null,
  ) {
    super(
      `the embedded database at ${dataDir} is in use by another wa-sync process; set DATABASE_URL to share a real Postgres`,
    );
  }
}

/**
 * Thrown when the sync lock has been held for more than `WA_SYNC_STUCK_MINUTES`: an ordinary
 * overlap is a skipped run (exit 0), a holder that old is a stuck sync, reported (exit 1) so that
 * cron's mail says so.
 */
export class SyncStuckError extends WaSyncError {
  readonly code = 'SYNC_STUCK';
  readonly exitCode = 1;
}

/** `wa-sync drain`: a session of the worker fits on no other worker; it stays where it runs, and the drain stops. */
export class DrainNoCapacityError extends WaSyncError {
  readonly code = 'DRAIN_NO_CAPACITY';
  readonly exitCode = 1;
}

/** `wa-sync drain`: a move failed (the stop, the start, or `connected` within the deadline); the drain stops there. */
export class DrainMoveFailedError extends WaSyncError {
  readonly code = 'DRAIN_MOVE_FAILED';
  readonly exitCode = 1;
}

/** `wa-sync drain`: the worker to drain does not answer (or is not in the fleet): nothing can be moved from it safely. */
export class DrainWorkerUnavailableError extends WaSyncError {
  readonly code = 'DRAIN_WORKER_UNAVAILABLE';
  readonly exitCode = 1;
}

/** `wa-sync drain`: a sync run kept the lock longer than a run may take (`WA_SYNC_RUN_TIMEOUT_SECONDS`). */
export class SyncLockBusyError extends WaSyncError {
  readonly code = 'SYNC_LOCK_BUSY';
  readonly exitCode = 1;
}
