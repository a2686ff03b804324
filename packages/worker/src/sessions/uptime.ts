import type { SessionStatus } from '@wa-session-sync/shared';

/** Reason of a history entry recording that the worker started (`from`/`to` null). */
export const WORKER_STARTED = 'WORKER_STARTED';
/** Reason of a history entry recording that the worker stopped, cleanly or (after a crash) at its last heartbeat. */
export const WORKER_STOPPED = 'WORKER_STOPPED';
/** Reasons of a stop a person asked for (`DELETE`, logout): the session is no longer meant to run. */
export const STOPS_ON_PURPOSE: ReadonlySet<string> = new Set(['STOPPED', 'LOGGED_OUT']);

/**
 * One line of a session's history (`history.jsonl`), as `GET /api/sessions/:id/events` returns it:
 * a status change (`from` null for a session just registered), or the worker starting or stopping
 * (`from` and `to` null, `reason` {@link WORKER_STARTED} / {@link WORKER_STOPPED}).
 */
export interface HistoryEntry {
  /** ISO-8601 UTC. */
  at: string;
  from: SessionStatus | null;
  to: SessionStatus | null;
  reason: string | null;
}

/** What the replay knows at one instant. */
interface ReplayState {
  workerUp: boolean;
  /** The session's status while the worker holds it; null when unknown (worker down, just started). */
  status: SessionStatus | null;
  /** A person wants it running: it has been started and not stopped on purpose since. */
  meant: boolean;
}

function step(state: ReplayState, entry: HistoryEntry): ReplayState {
  if (entry.to === null) {
    if (entry.reason === WORKER_STARTED) return { ...state, workerUp: true, status: null };
    if (entry.reason === WORKER_STOPPED) return { ...state, workerUp: false, status: null };
    return state;
  }
  // A registration or a start of any kind means the session is meant to run; a stop on purpose ends that.
  const onPurpose = entry.to === 'disconnected' && entry.reason !== null && STOPS_ON_PURPOSE.has(entry.reason);
  // A status change is only ever seen while the worker runs, whatever the entries before said.
  return { workerUp: true, status: entry.to, meant: !onPurpose };
}

/** Whether the session is meant to run after `entries` (in time order), and whether the last of them is a worker stop. */
export function stateAfter(entries: readonly HistoryEntry[]): { meant: boolean; workerStopped: boolean } {
  let state: ReplayState = { workerUp: true, status: null, meant: false };
  for (const entry of entries) state = step(state, entry);
  return { meant: state.meant, workerStopped: !state.workerUp };
}

/**
 * The share of `[windowStart, now]` the session was `connected` while it was meant to run, 0..1;
 * null when it was never meant to run in the window (never started, stopped on purpose throughout,
 * no entries). Pure: entries in any order, nothing read but the arguments.
 *
 * Meant to run: from any status entry until a stop on purpose (`disconnected` with reason
 * `STOPPED` or `LOGGED_OUT`); the worker being down does not end it (a crash or a restart is
 * downtime), and neither does a session failing or giving up (that is downtime too). Connected
 * only counts while the worker is up: a worker stop ends it, and after a worker start the session
 * is down until its next status entry says `connected`. Entries before the window set the state at
 * its start; entries after `now` are ignored.
 */
export function uptimeShare(entries: readonly HistoryEntry[], windowStart: Date, now: Date): number | null {
  const start = windowStart.getTime();
  const end = now.getTime();
  if (!(end > start)) return null;
  const sorted = entries
    .map((entry) => ({ entry, t: Date.parse(entry.at) }))
    .filter(({ t }) => Number.isFinite(t) && t <= end)
    .sort((a, b) => a.t - b.t);
  let state: ReplayState = { workerUp: true, status: null, meant: false };
  let up = 0;
  let meant = 0;
  let cursor = start;
  const account = (until: number) => {
    if (until <= cursor) return;
    if (state.meant) {
      meant += until - cursor;
      if (state.workerUp && state.status === 'connected') up += until - cursor;
    }
    cursor = until;
  };
  for (const { entry, t } of sorted) {
    account(t);
    state = step(state, entry);
  }
  account(end);
  return meant === 0 ? null : up / meant;
}
