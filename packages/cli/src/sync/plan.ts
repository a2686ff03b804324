import { isDeadStatus, REASONS, type SessionStatus, type WorkerSession } from '@wa-session-sync/shared';
import type { BackoffPolicy } from '../config';
import type {
  Account,
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
  // Sessions still in this map after the loop are the ones no active account knows.
  const unmatched = new Map<string, WorkerSession>();
  for (const session of worker.sessions) unmatched.set(session.session_id, session);
  const invalidIds = new Set(worker.invalid.map((entry) => entry.session_id).filter((id) => id !== null));
  const changes: PlannedChange[] = [];
  const nowIso = now.toISOString();

  for (const account of accounts) {
    const session = unmatched.get(account.session_id);
    if (session) unmatched.delete(account.session_id);
    if (invalidIds.size > 0 && invalidIds.has(account.session_id)) continue;
    const change = planAccount(account, session, options, now, nowIso);
    if (change) changes.push(change);
  }

  return {
    changes,
    unknownWorkerSessions: [...unmatched.values()],
    invalidWorkerSessions: worker.invalid,
    invalidWorkerValues: worker.invalidValues,
    accountsChecked: accounts.length,
  };
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
  const revive = wantsRunning(account) && !PERSON_MUST_ACT.has(session?.reason ?? '');
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

/** When the next attempt may be made after `attempts` attempts: base, 2x base, 4x base... */
export function nextAttemptAt(attempts: number, backoff: BackoffPolicy, now: Date): string {
  const minutes = backoff.baseMinutes * 2 ** Math.max(0, attempts - 1);
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
