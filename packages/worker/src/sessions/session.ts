import type { SessionStatus } from '@wa-session-sync/shared';
import type { LaunchKind } from '../events/bus';
import type { SessionRecord } from './record';

/**
 * What the worker counts of a session across all its launches (for the history, the metrics and
 * the dashboard to read; kept in memory for as long as the worker knows the session).
 */
export interface SessionCounters {
  /** Messages received since the worker first held the session. */
  messages: number;
  /** When the last of them arrived; null before the first. */
  lastMessageAt: Date | null;
  /** Launches of any kind (start, restore, relaunch). */
  launches: number;
  /** Reconnect attempts made, all launches together (the record's `reconnectAttempts` restarts at 0 on every ready). */
  reconnectAttempts: number;
  /** Live probes failed in a row, across relaunches; a successful probe resets it. */
  probeFailuresInRow: number;
}

/**
 * One session as the worker knows it, the same object across its launches (WAHA's shape): its
 * identity, folder and counters. Each launch is one generation of it, a `SessionRecord`
 * (`record.ts`) holding that launch's status and client; `record.session` leads back here. The
 * registry (`registry.ts`) keeps both: the session's current record, and this object while the
 * worker knows the session at all (also between a stop and the next start).
 */
export class Session {
  readonly counters: SessionCounters = { messages: 0, lastMessageAt: null, launches: 0, reconnectAttempts: 0, probeFailuresInRow: 0 };
  /** Its current launch while the worker holds it (set by the registry); null once stopped and removed. */
  current: SessionRecord | null = null;
  /** The last QR any launch showed, and when (the manager's `recentQr`: a page's image request racing a pairing). */
  lastQr: { qr: string; at: number } | null = null;

  constructor(
    readonly workspaceId: string,
    readonly sessionId: string,
    /** `<sessionsDir>/<workspaceId>/<sessionId>`. */
    readonly folder: string,
  ) {}

  /** The status of its current launch; null while the worker does not hold it (stopped, not started yet). */
  get status(): SessionStatus | null {
    return this.current?.status ?? null;
  }
}

/** The launch under way of a record: how it began and when, until it is ready, shows a QR or fails. */
export interface PendingLaunch {
  kind: LaunchKind;
  startedAt: Date;
}
