import type { SessionStatus, WorkerSession } from '@wa-session-sync/shared';
import type { BackoffPolicy } from '../config';

/** One active row of `whatsapp_accounts`, as the sync reads it. */
export interface Account {
  id: string;
  session_id: string;
  workspace_id: string;
  phone_number: string | null;
  status: SessionStatus;
  metadata: Record<string, unknown>;
  /** ISO-8601 UTC (millisecond precision). */
  updated_at: string;
  /** Row version read with the row (`xmin`); the write is skipped if it changed meanwhile. */
  version: string;
  /**
   * Set (`{ value }`) when the row's `metadata` column does not hold a JSON object (an array, a
   * string, a number, JSON or SQL null): its value as read. A write of the row replaces it with an
   * object holding the sync's keys, and that row's audit line keeps the old value.
   * Absent or `null` for a row whose `metadata` is an object.
   */
  invalid_metadata?: { value: unknown } | null;
  /** `whatsapp_accounts.worker_id`, read by a fleet's run only (absent otherwise). */
  worker_id?: string | null;
}

/** A worker answer entry the sync refused to use (unknown status, no id, duplicate...). */
export interface InvalidWorkerSession {
  session_id: string | null;
  reason: string;
}

/**
 * A value in a usable worker entry that the sync will not use (a phone number the column cannot
 * hold...): the entry is used with that field treated as unknown.
 */
export interface InvalidWorkerValue {
  session_id: string;
  field: 'phone_number';
  /** The value as the worker sent it, as JSON, shortened to 60 characters. */
  value: string;
  reason: string;
}

/** An active row the sync left alone because it cannot use it (an id off the pattern, a plan that failed). */
export interface InvalidAccount {
  session_id: string;
  workspace_id: string;
  reason: string;
}

/** What the worker told us on `/api/sessions`, split into usable and garbage entries. */
export interface WorkerSnapshot {
  sessions: WorkerSession[];
  invalid: InvalidWorkerSession[];
  /** Values of usable entries treated as unknown (their entries are in `sessions`). */
  invalidValues: InvalidWorkerValue[];
  /**
   * Each session's place in `sessions`, by id, when whoever read the list built it anyway (the
   * validator does, to find ids listed twice); the planner builds its own otherwise. It must
   * describe `sessions` exactly: a snapshot whose `sessions` is filtered carries none.
   */
  index?: ReadonlyMap<string, number>;
}

export interface PlanOptions {
  autoReconnect: boolean;
  backoff: BackoffPolicy;
  /**
   * A fleet (WHATSAPP_NODE_SERVICE_URLS): a new account (see `isNewAccount`) is started too, on
   * the worker placement picks, since the application cannot know which one. With one worker the
   * application starts its new sessions itself, and the sync only revives.
   */
  startNew?: boolean;
}

/**
 * What the sync does about one session:
 * - `update_status`: the row takes the observed status, no request;
 * - `start` / `reconnect`: ask the worker (`POST /api/sessions`, `POST /api/sessions/:id/reconnect`);
 * - `backed_off`: a reconnect is due but the back-off window has not passed;
 * - `given_up`: the reconnect cap is reached, left alone until a person acts.
 */
export type ChangeAction = 'update_status' | 'start' | 'reconnect' | 'backed_off' | 'given_up';

export interface RowWrite {
  status: SessionStatus;
  /** Written only where the row has none (`COALESCE`). */
  phone_number: string | null;
  /** Merged into `metadata` with `||`. */
  patch: Record<string, unknown>;
}

export interface PlannedChange {
  account: Account;
  /** `null`: the worker does not have the session. */
  worker_status: SessionStatus | null;
  action: ChangeAction;
  /** The row write if no request is made (or it fails); `null` = nothing to write. */
  write: RowWrite | null;
}

export interface SyncPlan {
  changes: PlannedChange[];
  /** Sessions the worker runs that are not among the active accounts: reported, never touched. */
  unknownWorkerSessions: WorkerSession[];
  /** Worker entries that were garbage; accounts with those ids are not written. */
  invalidWorkerSessions: InvalidWorkerSession[];
  /** Values the worker sent that were treated as unknown; their entries were used. */
  invalidWorkerValues: InvalidWorkerValue[];
  /** Active rows reported and left alone (never sent, never written). */
  invalidAccounts: InvalidAccount[];
  accountsChecked: number;
}

/** What happened to a `start`/`reconnect` request. */
export type RequestOutcome = { ok: true; status: SessionStatus | null } | { ok: false; error: string };
