import { isDeadStatus, isValidId, ID_PATTERN_SOURCE, REASONS, type SessionStatus, type WorkerSession } from '@wa-session-sync/shared';
import { MAX_BACKOFF_MINUTES, type BackoffPolicy } from '../config';
import type {
  Account,
  InvalidAccount,
  PlanOptions,
  PlannedChange,
  RequestOutcome,
  RowWrite,
  SyncPlan,
  WorkerSnapshot,
} from './model';

export const NOT_FOUND_REASON = 'Node.js session not found during sync';

/**
 * Worker reasons after which only a person brings the session back, so the sync never revives it
 * (it still corrects the status): `LOGOUT`, the phone unlinked the device (a new QR must be
 * scanned); `QR_TIMEOUT`, nobody scanned the QR in time and the worker stopped the session
 * (starting it again would only show another QR to nobody, until the next timeout).
 */
export const PERSON_MUST_ACT: ReadonlySet<string> = new Set([REASONS.LOGOUT, REASONS.QR_TIMEOUT]);
export const TRIGGERED_BY = 'sync_command';

/**
 * Who may be revived (desired state, kept apart from the observed `status` column):
 *
 * - a row the database still shows `connected` is meant to run: if the worker lacks it or
 *   reports it dead, a crash (not a person) took it down;
 * - any other row is meant to run only if the sync itself wrote its current status and
 *   recorded `sync_revive: true` then. The sync stamps `metadata.sync_written_at` with the very
 *   value it writes to `updated_at`; the owning application bumps `updated_at` whenever a person
 *   disconnects or logs out, so once they differ the status is a person's decision and the sync
 *   never revives it (it still mirrors what the worker observes);
 * - a worker status with a reason in `PERSON_MUST_ACT` (logged out from the phone, a QR nobody
 *   scanned in time) is never revived either: only a person can bring that session back.
 */
export function wantsRunning(account: Account): boolean {
  if (account.status === 'connected') return true;
  return writtenBySync(account) && account.metadata.sync_revive === true;
}

/**
 * An account as the application inserts it and nobody has run yet: `disconnected` (the column's
 * default), never written by the sync. A fleet's sync starts it (`PlanOptions.startNew`); once
 * the sync has written it, it is revived only as any other (never after a QR timeout or a logout).
 */
export function isNewAccount(account: Account): boolean {
  return account.status === 'disconnected' && account.metadata.sync_written_at === undefined;
}

export function writtenBySync(account: Account): boolean {
  const stamp = account.metadata.sync_written_at;
  return typeof stamp === 'string' && Date.parse(stamp) === Date.parse(account.updated_at);
}

/**
 * The pure heart of the sync: from the active accounts and the worker's sessions, decide what
 * to change. Level-based: it depends only on what it is given (including back-off bookkeeping
 * kept in `metadata`), never on what an earlier run did in memory.
 */
export function plan(accounts: Account[], worker: WorkerSnapshot, options: PlanOptions, now: Date): SyncPlan {
  const planner = new Planner(worker, options, now);
  planner.add(accounts);
  return planner.finish();
}

/**
 * {@link plan} fed page by page: `add` each page of accounts, in order, then `finish`; the result
 * is the one `plan` gives for all pages at once. The run reads 100,000 accounts in pages and keeps
 * only those with a change (one in ten in the benchmark), not every row. `worker.sessions` holds
 * each id once (`validateSessions` drops duplicates).
 */
export class Planner {
  /** Each session's place in `worker.sessions`; sessions no account matched are the unknown ones. */
  private readonly index: ReadonlyMap<string, number>;
  private readonly matched: Uint8Array;
  private readonly invalidIds: Set<string>;
  private readonly changes: PlannedChange[] = [];
  private readonly invalidAccounts: InvalidAccount[] = [];
  private readonly nowIso: string;
  private accountsChecked = 0;

  constructor(
    private readonly worker: WorkerSnapshot,
    private readonly options: PlanOptions,
    private readonly now: Date,
  ) {
    // Flags instead of deleting from a map: 100,000 deletes cost a third more (rehashing).
    this.index = worker.index ?? indexOf(worker.sessions);
    this.matched = new Uint8Array(worker.sessions.length);
    this.invalidIds = new Set(worker.invalid.map((entry) => entry.session_id).filter((id) => id !== null));
    this.nowIso = now.toISOString();
  }

  add(accounts: readonly Account[]): void {
    const { worker, matched, invalidIds } = this;
    for (const account of accounts) {
      const i = this.index.get(account.session_id);
      let session: WorkerSession | undefined;
      if (i !== undefined) {
        // A second row with a session an earlier row had: the pages were read at different
        // moments and the id moved between rows meanwhile. The next run decides about it.
        if (matched[i] === 1) continue;
        matched[i] = 1;
        session = worker.sessions[i];
      }
      if (invalidIds.size > 0 && invalidIds.has(account.session_id)) continue;
      const problem = idProblem(account);
      if (problem) {
        this.invalidAccounts.push({ session_id: account.session_id, workspace_id: account.workspace_id, reason: problem });
        continue;
      }
      // One row's data (a metadata value no plan foresaw) must never cost the other rows their
      // sync: the row is reported and left alone, the run goes on.
      let change: PlannedChange | null;
      try {
        change = planAccount(account, session, this.options, this.now, this.nowIso);
      } catch (error) {
        const reason = `cannot be planned: ${error instanceof Error ? error.message : String(error)}`;
        this.invalidAccounts.push({ session_id: account.session_id, workspace_id: account.workspace_id, reason });
        continue;
      }
      if (change) this.changes.push(change);
    }
    this.accountsChecked += accounts.length;
  }

  finish(): SyncPlan {
    return {
      changes: this.changes,
      unknownWorkerSessions: this.worker.sessions.filter((_, i) => this.matched[i] === 0),
      invalidWorkerSessions: this.worker.invalid,
      invalidWorkerValues: this.worker.invalidValues,
      invalidAccounts: this.invalidAccounts,
      accountsChecked: this.accountsChecked,
    };
  }
}

/**
 * Why a row's ids are unusable, if they are: rows written before the id `CHECK` (migration 002,
 * `NOT VALID`: old rows are not checked) may hold anything, and the worker refuses such an id
 * (`400`), so the row is reported and never sent nor written.
 */
function idProblem(account: Account): string | null {
  if (!isValidId(account.session_id)) return `session_id does not match ${ID_PATTERN_SOURCE}`;
  if (!isValidId(account.workspace_id)) return `workspace_id does not match ${ID_PATTERN_SOURCE}`;
  return null;
}

/** Each session's place in `sessions`, by id. */
function indexOf(sessions: readonly WorkerSession[]): Map<string, number> {
  const index = new Map<string, number>();
  for (let i = 0; i < sessions.length; i++) index.set(sessions[i].session_id, i);
  return index;
}

function planAccount(
  account: Account,
  session: WorkerSession | undefined,
  options: PlanOptions,
  now: Date,
  nowIso: string,
): PlannedChange | null {
  // Fast path, most rows on most runs: both sides agree that the session is connected.
  if (session?.status === 'connected' && account.status === 'connected') return null;
  const revive = (wantsRunning(account) || (options.startNew === true && !session && isNewAccount(account))) && !PERSON_MUST_ACT.has(session?.reason ?? '');
  const stamp = { sync_written_at: nowIso, sync_revive: revive };

  if (!session) {
    const liveOnPaper = !isDeadStatus(account.status);
    const takeDown = liveOnPaper ? { auto_disconnected_at: nowIso, reason: NOT_FOUND_REASON } : {};
    if (options.autoReconnect && revive) {
      const base: RowWrite = { status: 'disconnected', phone_number: null, patch: { ...takeDown, ...stamp } };
      return withReconnect(account, null, 'start', base, options.backoff, now);
    }
    if (!liveOnPaper) return null;
    return change(account, null, 'update_status', { status: 'disconnected', phone_number: null, patch: { ...takeDown, ...stamp } });
  }

  const observed = session.status;
  if (observed === 'connected') {
    if (account.status === 'connected') return null;
    return change(account, observed, 'update_status', {
      status: 'connected',
      phone_number: session.phone_number ?? null,
      patch: { ...stamp, sync_revive: true, ...RESET_RECONNECT },
    });
  }

  const wasConnected = account.status === 'connected';
  const patch: Record<string, unknown> = { ...stamp };
  if (wasConnected && isDeadStatus(observed)) {
    patch.auto_disconnected_at = nowIso;
    patch.reason = `Node.js session ${observed} during sync`;
  }
  const base: RowWrite = { status: observed, phone_number: session.phone_number ?? null, patch };
  if (options.autoReconnect && revive && isDeadStatus(observed)) {
    return withReconnect(account, observed, 'reconnect', base, options.backoff, now);
  }
  if (account.status === observed) {
    // The status is right, but the row is still marked for revival by an earlier write of the
    // sync: unmark it, so that no later run (the worker restarted, the session gone) revives it.
    if (PERSON_MUST_ACT.has(session.reason ?? '') && wantsRunning(account)) return change(account, observed, 'update_status', base);
    return null;
  }
  return change(account, observed, 'update_status', base);
}

const RESET_RECONNECT = {
  reconnect_attempts: 0,
  next_reconnect_at: null,
  last_reconnect_error: null,
  reconnect_given_up_at: null,
};

function change(
  account: Account,
  workerStatus: SessionStatus | null,
  action: PlannedChange['action'],
  write: RowWrite | null,
): PlannedChange {
  return { account, worker_status: workerStatus, action, write };
}

/** Attempts so far; a row the database still shows `connected` starts afresh. */
export function reconnectAttempts(account: Account): number {
  if (account.status === 'connected') return 0;
  const attempts = account.metadata.reconnect_attempts;
  return typeof attempts === 'number' && Number.isInteger(attempts) && attempts > 0 ? attempts : 0;
}

function withReconnect(
  account: Account,
  workerStatus: SessionStatus | null,
  request: 'start' | 'reconnect',
  base: RowWrite,
  backoff: BackoffPolicy,
  now: Date,
): PlannedChange | null {
  const attempts = reconnectAttempts(account);
  const statusChanges = base.status !== account.status;
  if (attempts >= backoff.maxAttempts) {
    const firstTime = typeof account.metadata.reconnect_given_up_at !== 'string';
    const write = statusChanges || firstTime
      ? { ...base, patch: { ...base.patch, ...(firstTime ? { reconnect_given_up_at: now.toISOString() } : {}) } }
      : null;
    return change(account, workerStatus, 'given_up', write);
  }
  const next = account.metadata.next_reconnect_at;
  if (account.status !== 'connected' && typeof next === 'string' && Date.parse(next) > now.getTime()) {
    return change(account, workerStatus, 'backed_off', statusChanges ? base : null);
  }
  return change(account, workerStatus, request, base);
}

/**
 * When the next attempt may be made after `attempts` attempts: base, 2x base, 4x base... up to
 * `MAX_BACKOFF_MINUTES`, whatever the count: unclamped, 36 attempts at 5 minutes is a date past
 * the year 275,760, which `toISOString` refuses.
 */
export function nextAttemptAt(attempts: number, backoff: BackoffPolicy, now: Date): string {
  const minutes = Math.min(MAX_BACKOFF_MINUTES, backoff.baseMinutes * 2 ** Math.max(0, attempts - 1));
  return new Date(now.getTime() + minutes * 60_000).toISOString();
}

/**
 * The row write once a `start`/`reconnect` request has been answered. The status is the one
 * the worker reports, never `connected` on paper: a started session that says nothing is
 * `initializing`, a reconnect that says nothing is `reconnecting`, a failed request keeps the
 * planned (dead) status.
 */
export function settle(change: PlannedChange, outcome: RequestOutcome, backoff: BackoffPolicy, now: Date): RowWrite {
  const base = change.write ?? { status: change.account.status, phone_number: null, patch: {} };
  const attempts = reconnectAttempts(change.account) + 1;
  const patch = {
    ...base.patch,
    auto_reconnect_at: now.toISOString(),
    reconnect_triggered_by: TRIGGERED_BY,
    reconnect_attempts: attempts,
    next_reconnect_at: nextAttemptAt(attempts, backoff, now),
    last_reconnect_error: outcome.ok ? null : outcome.error,
  };
  if (!outcome.ok) return { ...base, patch };
  const fallback: SessionStatus = change.action === 'start' ? 'initializing' : 'reconnecting';
  return { ...base, status: outcome.status ?? fallback, patch };
}
