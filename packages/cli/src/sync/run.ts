import { randomUUID } from 'node:crypto';
import { AuditLog, type AuditEntry } from '../audit';
import type { SyncConfig } from '../config';
import { readActiveAccountPages, writeAccounts, type AccountPages, type AccountWrite } from '../db/accounts';
import { asDatabaseError, openDatabase, type Database } from '../db/knex';
import { acquireSyncLock, syncLockHolder, type LockHolder, type SyncLock } from '../db/lock';
import { AuditLogError, EmbeddedDatabaseLockedError, SyncStuckError } from '../errors';
import { WorkerClient, type SessionRequest } from '../worker-client';
import type { PlannedChange, PlanOptions, RequestOutcome, SyncPlan } from './model';
import {
  auditEntry,
  describeChange,
  statusUpdated,
  type ChangeResult,
  type MismatchReport,
  type SyncOutcome,
} from './outcome';
import { Planner, settle } from './plan';

export type { ChangeResult, MismatchReport, SyncOutcome, SyncReport } from './outcome';

/**
 * One sync run: health, connect, lock, read, plan (pure), act, write (one transaction, one
 * statement), audit; the lock is released and everything closed in `finally`.
 * Throws a `WaSyncError` when it cannot sync; then nothing has been written.
 */
export async function runSync(config: SyncConfig, clock: () => Date = () => new Date()): Promise<SyncOutcome> {
  const { startedAt, timings, lap } = phaseTimer();
  // Before anything is sent or written: a run that could not record what it did must not do it.
  const log = config.dryRun ? undefined : await openAuditLog(config.auditLogPath);
  const client = new WorkerClient({
    baseUrl: config.workerUrl,
    apiKey: config.apiKey,
    timeoutMs: config.requestTimeoutMs,
    deadline: Date.now() + config.runTimeoutMs,
    concurrency: config.reconnectConcurrency,
  });
  let db: Database | undefined;
  let lock: SyncLock | null = null;
  // Two sides run at once. The database side connects, takes the lock and starts reading the
  // accounts; the worker side checks /health and, once the lock is held, lists the sessions.
  // Nothing is acted on or written before both have succeeded, so a sick worker still means
  // exit 1 with nothing written; a run that does not get the lock never asks the worker for
  // sessions.
  const opening = openAndLock(config, clock()).then((opened) => {
    db = opened.db;
    lock = opened.lock;
    return opened;
  });
  const reading = opening.then((opened) =>
    opened.lock
      ? readActiveAccountPages(opened.db!.knex, config.workspaceId, opened.lock.connection)
      : null,
  );
  reading.catch(() => undefined);
  try {
    const health = await client.health();
    lap('health');
    const opened = await opening;
    if (!opened.lock) return { kind: 'skipped', reason: opened.skipped ?? 'another sync-sessions run holds the lock' };
    const database = opened.db!;
    const connection = opened.lock.connection;
    lap('lock');

    const now = clock();
    const { planned, planningMs } = await readAndPlan(
      client,
      reading as Promise<AccountPages>,
      config,
      { autoReconnect: config.autoReconnect, backoff: config.backoff },
      now,
    );
    lap('read');
    // Each page was planned as it came: that time is the plan's.
    timings.read = Math.round((timings.read - planningMs) * 10) / 10;
    timings.plan = Math.round(planningMs * 10) / 10;

    const outcomes = config.dryRun ? new Map<PlannedChange, RequestOutcome>() : await act(client, planned.changes);
    lap('requests');
    const writes = settledWrites(planned.changes, outcomes, config.backoff, now);

    // One UPDATE statement for every row (so one transaction). The audit lines are written once,
    // from what really happened: rows someone changed meanwhile (skipped by the statement) are
    // conflicts, and when the statement fails the requests already sent are still recorded.
    let written = new Set<string>();
    let writeError: unknown;
    if (!config.dryRun && writes.size > 0) {
      try {
        written = await writeAccounts(database.knex, [...writes.values()], now, connection);
      } catch (error) {
        writeError = asDatabaseError(error, config.database);
      }
    }
    lap('write');
    const { runId, mismatches, auditFile, warnings } = await auditRun(log, planned.changes, { writes, outcomes, written, writeError }, config.dryRun);

    lap('audit');
    return {
      kind: 'done',
      report: {
        run_id: runId,
        dry_run: config.dryRun,
        auto_reconnect: config.autoReconnect,
        reconnect_policy: { base_minutes: config.backoff.baseMinutes, max_attempts: config.backoff.maxAttempts },
        workspace_id: config.workspaceId ?? null,
        started_at: now.toISOString(),
        worker: { url: config.workerUrl, ...health },
        database: { label: database.config.label, active_accounts: planned.accountsChecked },
        ...findings(planned, mismatches, config.dryRun),
        audit_log: auditFile,
        warnings,
        duration_ms: Math.round(performance.now() - startedAt),
        timings_ms: timings,
      },
    };
  } finally {
    // Whatever happened, wait for the database side so nothing opened is left behind.
    await (await reading.catch(() => null))?.close().catch(() => undefined);
    // Cleanup never hides the run's own outcome: a lock on a broken connection is already
    // gone (Postgres frees it with the session), and closing is best effort.
    await (lock as SyncLock | null)?.release().catch(() => undefined);
    await (db as Database | undefined)?.close().catch(() => undefined);
    await client.close().catch(() => undefined);
  }
}

/**
 * The worker's sessions, then the accounts page by page, each page planned as it comes (the first
 * is fetched while the worker answers, each next one while the one before is planned). Only the
 * rows with a change stay in memory, and the worker's list is let go once the plan is made: at
 * 100,000 accounts that is most of the run's memory (see `ACCOUNTS_PAGE_SIZE`).
 */
async function readAndPlan(
  client: WorkerClient,
  reading: Promise<AccountPages>,
  config: SyncConfig,
  options: PlanOptions,
  now: Date,
): Promise<{ planned: SyncPlan; planningMs: number }> {
  const planner = new Planner(await client.sessions(config.workspaceId), options, now);
  const pages = await reading;
  const database = <T>(step: Promise<T>) =>
    step.catch((error: unknown) => {
      throw asDatabaseError(error, config.database);
    });
  let planningMs = 0;
  for (let page = await database(pages.next()); page; page = await database(pages.next())) {
    const started = performance.now();
    planner.add(page);
    planningMs += performance.now() - started;
  }
  const started = performance.now();
  const planned = planner.finish();
  return { planned, planningMs: planningMs + performance.now() - started };
}

export async function openAuditLog(file: string): Promise<AuditLog> {
  try {
    return await AuditLog.open(file);
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new AuditLogError(`the audit log ${file} cannot be written (${why}); set WA_SYNC_AUDIT_LOG to a writable file`, { cause: error });
  }
}

/**
 * Opens the database and takes the sync lock; `lock: null` with the reason when another run holds
 * it. A holder older than `WA_SYNC_STUCK_MINUTES` is no overlap but a stuck sync: `SyncStuckError`.
 */
export async function openAndLock(config: SyncConfig, now: Date): Promise<{ db?: Database; lock: SyncLock | null; skipped?: string }> {
  let db: Database;
  try {
    db = await openDatabase(config.database, { statementTimeoutMs: config.runTimeoutMs });
  } catch (error) {
    if (!(error instanceof EmbeddedDatabaseLockedError)) throw error;
    refuseStuck(error.holder, config, now);
    return { lock: null, skipped: error.message };
  }
  try {
    const lock = await acquireSyncLock(db);
    if (!lock) refuseStuck(await syncLockHolder(db), config, now);
    return { db, lock };
  } catch (error) {
    await db.close();
    throw error;
  }
}

function refuseStuck(holder: LockHolder | null, config: SyncConfig, now: Date): void {
  if (!holder) return;
  const age = now.getTime() - holder.since.getTime();
  if (age <= config.stuckMs) return;
  throw new SyncStuckError(
    `another sync-sessions run (pid ${holder.pid}) has held the lock for ${formatAge(age)}, since ${holder.since.toISOString()}: ` +
      `more than WA_SYNC_STUCK_MINUTES (${config.stuckMs / 60_000}), a stuck sync`,
  );
}

/** `2 h 5 min`, `14 min 3 s`, `1.2 s`. */
export function formatAge(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/**
 * The audit lines of a run whose database write failed: every request already sent to the worker
 * is recorded (it happened), with nothing written to the row.
 */
export function unwrittenRequests(changes: PlannedChange[], outcomes: Map<PlannedChange, RequestOutcome>, error: unknown): AuditEntry[] {
  const why = `database write failed: ${error instanceof Error ? error.message : String(error)}`;
  return changes.flatMap((change) => {
    const outcome = outcomes.get(change);
    if (!outcome) return [];
    const line = auditEntry(change, describeChange(change, null, outcome, new Set(), false), undefined);
    return [{ ...line, error: line.error ? `${line.error}; ${why}` : why }];
  });
}

/** Sends the start/reconnect requests of the plan; one failure never stops the others. */
async function act(client: WorkerClient, changes: PlannedChange[]): Promise<Map<PlannedChange, RequestOutcome>> {
  const requesting = changes.filter((c) => c.action === 'start' || c.action === 'reconnect');
  const requests: SessionRequest[] = requesting.map((c) => ({
    kind: c.action as SessionRequest['kind'],
    session_id: c.account.session_id,
    workspace_id: c.account.workspace_id,
  }));
  const outcomes = await client.requestAll(requests);
  return new Map(requesting.map((change, i) => [change, outcomes[i]]));
}

/**
 * What a run found and did, as the report and `--json` give it: the changes, what the worker
 * reported that no account or no column could take, and their counts. One worker's run and a
 * fleet's (`fleet/run.ts`) report the same way.
 */
export function findings(planned: ReturnType<Planner['finish']>, mismatches: ReturnType<typeof describeChange>[], dryRun: boolean) {
  const count = (result: ChangeResult) => mismatches.filter((m) => m.result === result).length;
  return {
    mismatches,
    unknown_worker_sessions: planned.unknownWorkerSessions.map((s) => ({ session_id: s.session_id, workspace_id: s.workspace_id, status: s.status })),
    invalid_worker_sessions: planned.invalidWorkerSessions,
    invalid_worker_values: planned.invalidWorkerValues,
    invalid_accounts: planned.invalidAccounts,
    summary: {
      mismatches: mismatches.length,
      reconnected: count('reconnected'),
      statuses_updated: dryRun ? 0 : mismatches.filter(statusUpdated).length,
      reconnect_failed: count('reconnect_failed'),
      backed_off: count('backed_off'),
      given_up: count('given_up'),
      conflicts: count('conflict'),
      unknown_worker_sessions: planned.unknownWorkerSessions.length,
      invalid_worker_sessions: planned.invalidWorkerSessions.length,
      invalid_worker_values: planned.invalidWorkerValues.length,
      invalid_accounts: planned.invalidAccounts.length,
    },
  };
}

/** The row write each change comes to, once its request (if any) has been answered. */
export function settledWrites(
  changes: readonly PlannedChange[],
  outcomes: Map<PlannedChange, RequestOutcome>,
  backoff: PlanOptions['backoff'],
  now: Date,
): Map<PlannedChange, AccountWrite> {
  const writes = new Map<PlannedChange, AccountWrite>();
  for (const change of changes) {
    const outcome = outcomes.get(change);
    const write = outcome ? settle(change, outcome, backoff, now) : change.write;
    if (write) writes.set(change, { ...write, id: change.account.id, version: change.account.version });
  }
  return writes;
}

/**
 * Every change described as it really came out, and the audit lines written once from that: rows
 * someone changed meanwhile (skipped by the statement) are conflicts, and when the statement
 * failed the requests already sent are still recorded; then the write's error, if any, is thrown.
 * The rows are committed before this: a failing audit write must not turn a done sync into a
 * failed one (the next run would redo it), so it is a warning, and the lines are counted lost.
 */
export async function auditRun(
  log: AuditLog | undefined,
  changes: PlannedChange[],
  done: { writes: Map<PlannedChange, AccountWrite>; outcomes: Map<PlannedChange, RequestOutcome>; written: Set<string>; writeError: unknown },
  dryRun: boolean,
): Promise<{ runId: string; mismatches: MismatchReport[]; auditFile: string | null; warnings: string[] }> {
  const { writes, outcomes, written, writeError } = done;
  const runId = randomUUID();
  const mismatches = changes.map((change) => describeChange(change, writes.get(change) ?? null, outcomes.get(change), written, dryRun));
  let auditFile: string | null = null;
  const warnings: string[] = [];
  if (log) {
    const entries = writeError ? unwrittenRequests(changes, outcomes, writeError) : changes.map((change, i) => auditEntry(change, mismatches[i], writes.get(change)));
    try {
      await log.write(runId, entries);
      if (entries.length > 0) auditFile = log.file;
    } catch (error) {
      warnings.push(`the audit log ${log.file} could not be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ${entries.length} line(s) lost`);
    }
  }
  if (writeError) throw writeError;
  return { runId, mismatches, auditFile, warnings };
}

/** Each phase's milliseconds (one decimal), one after another: `lap(name)` ends the phase under way. */
export function phaseTimer(): { startedAt: number; timings: Record<string, number>; lap(phase: string): void } {
  const startedAt = performance.now();
  const timings: Record<string, number> = {};
  let mark = startedAt;
  const lap = (phase: string) => {
    const t = performance.now();
    timings[phase] = Math.round((t - mark) * 10) / 10;
    mark = t;
  };
  return { startedAt, timings, lap };
}
