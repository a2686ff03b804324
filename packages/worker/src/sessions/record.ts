import type { SessionStatus, WorkerSession } from '@wa-session-sync/shared';
import type { LaunchReservation } from './capacity';
import type { LaunchKind } from '../events/bus';
import type { SessionClient } from './driver';
import { Session, type PendingLaunch } from './session';

/**
 * One launch of a session (a generation of its {@link Session}): the status, client and timers of
 * that launch. A start, restore or reconnect route makes a new record for the same session object.
 */
export interface SessionRecord {
  /** The session across its launches (identity, counters). */
  readonly session: Session;
  readonly workspaceId: string;
  readonly sessionId: string;
  /** `<sessionsDir>/<workspaceId>/<sessionId>`. */
  readonly folder: string;
  status: SessionStatus;
  reason: string | null;
  qr: string | null;
  /** The pairing code last given for this launch (a request, or its refresh); null when none is asked for. */
  pairingCode: string | null;
  phone: string | null;
  updatedAt: Date;
  reconnectAttempts: number;
  lastSeenAliveAt: Date | null;
  client: SessionClient | null;
  /** The client's `initialize()` has resolved: from then on the probe may expect a live browser. */
  clientInitialized: boolean;
  /** Bumped whenever the client changes or is given up; events of older generations are stale. */
  generation: number;
  /**
   * Registered by the restore at start and waiting for its turn: listed, counted, and launched by
   * whichever comes first, the restore or an API start (never both).
   */
  queued: boolean;
  /** Its launch as counted against the memory until it has finished (`capacity.ts`); null when none is. */
  reservation: LaunchReservation | null;
  /** Settles when the launch that created this record has returned (restore waits on it). */
  launched: Promise<void>;
  /**
   * Settles once that launch has taken its place in the launch gate's line (or ended before):
   * the restore starts the next session's launch only then, so sessions launch in its order.
   */
  inLine: Promise<void>;
  /** How the next launch of this record counts (`launch` events): set at creation, `reconnect` for a retry. */
  launchKind: LaunchKind;
  /** The launch under way, until it is ready, shows a QR or fails; null otherwise. */
  launch: PendingLaunch | null;
}

/** A record for a session about to be launched. */
export function newRecord(fields: {
  workspaceId: string;
  sessionId: string;
  folder: string;
  phone: string | null;
  now: Date;
  /** The session this record is a launch of; a new one when omitted. */
  session?: Session;
  launchKind?: LaunchKind;
}): SessionRecord {
  return {
    session: fields.session ?? new Session(fields.workspaceId, fields.sessionId, fields.folder),
    workspaceId: fields.workspaceId,
    sessionId: fields.sessionId,
    folder: fields.folder,
    status: 'initializing',
    reason: null,
    qr: null,
    pairingCode: null,
    phone: fields.phone,
    updatedAt: fields.now,
    reconnectAttempts: 0,
    lastSeenAliveAt: null,
    client: null,
    clientInitialized: false,
    generation: 0,
    queued: false,
    reservation: null,
    launched: Promise.resolve(),
    inLine: Promise.resolve(),
    launchKind: fields.launchKind ?? 'start',
    launch: null,
  };
}

/** The session as the API and the events show it: the QR and pairing code only while scanning, no phone then. */
export function viewOf(record: SessionRecord): WorkerSession {
  return {
    session_id: record.sessionId,
    workspace_id: record.workspaceId,
    status: record.status,
    phone_number: record.status === 'qr_scanning' ? null : record.phone,
    updated_at: record.updatedAt.toISOString(),
    qr: record.status === 'qr_scanning' ? record.qr : null,
    pairing_code: record.status === 'qr_scanning' ? record.pairingCode : null,
    reason: record.reason,
    reconnect_attempts: record.reconnectAttempts,
    last_seen_alive_at: record.lastSeenAliveAt?.toISOString() ?? null,
  };
}

/** The session's browser is known dead though no event said so yet (the next probe would find it). */
export function browserDied(record: SessionRecord): boolean {
  return record.client !== null && record.clientInitialized && !record.client.isAlive();
}
