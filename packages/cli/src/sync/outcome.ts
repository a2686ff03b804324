import type { SessionStatus } from '@wa-session-sync/shared';
import type { AuditEntry } from '../audit';
import type { AccountWrite } from '../db/accounts';
import type { InvalidAccount, InvalidWorkerSession, InvalidWorkerValue, PlannedChange, RequestOutcome } from './model';

// What a run reports: the shapes behind the text report and `--json`, and how one planned
// change becomes a line of them (and of the audit log).

/** What became of one planned change. */
export type ChangeResult =
  /** `--dry-run`: nothing was sent or written. */
  | 'planned'
  | 'status_updated'
  /** Metadata only (e.g. the give-up mark); the status stayed. */
  | 'metadata_updated'
  | 'reconnected'
  | 'reconnect_failed'
  | 'backed_off'
  | 'given_up'
  /** Someone changed the row between our read and our write: left alone, next run decides. */
  | 'conflict';

export interface MismatchReport {
  session_id: string;
  workspace_id: string;
  phone_number: string | null;
  database_status: SessionStatus;
  /** `null`: the worker does not have the session. */
  worker_status: SessionStatus | null;
  action: PlannedChange['action'];
  result: ChangeResult;
  /** The status now in the database (or planned, with `--dry-run`); `null` when not written. */
  new_status: SessionStatus | null;
  /** Reconnect attempts recorded for this session (back-off across runs). */
  reconnect_attempts: number | null;
  next_reconnect_at: string | null;
  error: string | null;
  /**
   * The row's `metadata` was not a JSON object: the write replaced it (or, with `--dry-run`,
   * would) with an object holding the sync's keys; the audit line keeps the old value.
   */
  metadata_replaced: boolean;
}

export interface SyncReport {
  run_id: string;
  dry_run: boolean;
  auto_reconnect: boolean;
  /** The back-off policy the run applied (attempts across runs, then it gives up). */
  reconnect_policy: { base_minutes: number; max_attempts: number };
  workspace_id: string | null;
  started_at: string;
  worker: { url: string; uptime: number; total: number; connected: number };
  database: { label: string; active_accounts: number };
  mismatches: MismatchReport[];
  unknown_worker_sessions: { session_id: string; workspace_id: string; status: SessionStatus }[];
  invalid_worker_sessions: InvalidWorkerSession[];
  /** Values of usable worker entries treated as unknown (a phone number the column cannot hold...). */
  invalid_worker_values: InvalidWorkerValue[];
  /** Active rows left alone: ids off the pattern (rows older than the id `CHECK`), or a row whose plan failed. */
  invalid_accounts: InvalidAccount[];
  summary: {
    mismatches: number;
    reconnected: number;
    statuses_updated: number;
    reconnect_failed: number;
    backed_off: number;
    given_up: number;
    conflicts: number;
    unknown_worker_sessions: number;
    invalid_worker_sessions: number;
    invalid_worker_values: number;
    invalid_accounts: number;
  };
  audit_log: string | null;
  /** What went wrong after the rows were committed (the audit log could not be written): printed on stderr. */
  warnings: string[];
  /** From the health check to the last line of audit, before closing. */
  duration_ms: number;
  /**
   * Where the time went (ms), as consecutive laps: `health`, `lock` (what connecting and
   * locking took beyond the health check, which runs alongside), `read`, `plan`, `requests`,
   * `write` (the UPDATE) and `audit` (the lines, to disk).
   */
  timings_ms: Record<string, number>;
}

export type SyncOutcome = { kind: 'done'; report: SyncReport } | { kind: 'skipped'; reason: string };

/** What became of one change, from the plan, the request's outcome and the rows written. */
export function describeChange(
  change: PlannedChange,
  write: AccountWrite | null,
  outcome: RequestOutcome | undefined,
  written: Set<string>,
  dryRun: boolean,
): MismatchReport {
  const { account } = change;
  const patch = write?.patch ?? {};
  const attempts = 'reconnect_attempts' in patch ? patch.reconnect_attempts : account.metadata.reconnect_attempts;
  const next = 'next_reconnect_at' in patch ? patch.next_reconnect_at : account.metadata.next_reconnect_at;
  let result: ChangeResult;
  if (write && !dryRun && !written.has(account.id)) result = 'conflict';
  else if (change.action === 'backed_off' || change.action === 'given_up') result = change.action;
  else if (dryRun) result = 'planned';
  else if (outcome) result = outcome.ok ? 'reconnected' : 'reconnect_failed';
  else result = write && write.status !== account.status ? 'status_updated' : 'metadata_updated';
  return {
    session_id: account.session_id,
    workspace_id: account.workspace_id,
    phone_number: account.phone_number ?? write?.phone_number ?? null,
    database_status: account.status,
    worker_status: change.worker_status,
    action: change.action,
    result,
    new_status: result === 'conflict' ? null : (write?.status ?? null),
    reconnect_attempts: typeof attempts === 'number' ? attempts : null,
    next_reconnect_at: typeof next === 'string' ? next : null,
    error: outcome && !outcome.ok ? outcome.error : result === 'conflict' ? 'row changed by someone else during the sync' : null,
    metadata_replaced: write !== null && result !== 'conflict' && Boolean(account.invalid_metadata),
  };
}

/** The audit line of one change. */
export function auditEntry(change: PlannedChange, m: MismatchReport, write: AccountWrite | undefined): AuditEntry {
  const phone = change.account.phone_number ?? write?.phone_number ?? null;
  return {
    session_id: m.session_id,
    workspace_id: m.workspace_id,
    action: m.action,
    before: { status: change.account.status, phone_number: change.account.phone_number },
    after: m.new_status ? { status: m.new_status, phone_number: phone } : null,
    result: m.result,
    ...(m.error ? { error: m.error } : {}),
    ...(m.metadata_replaced && change.account.invalid_metadata ? { previous_metadata: change.account.invalid_metadata.value } : {}),
  };
}

/** A row whose status column the run changed, other than by a successful reconnect. */
export function statusUpdated(m: MismatchReport): boolean {
  if (m.result === 'planned' || m.result === 'conflict' || m.result === 'reconnected') return false;
  return m.new_status !== null && m.new_status !== m.database_status;
}
