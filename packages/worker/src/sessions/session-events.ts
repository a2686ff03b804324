import type { MessagePayload, SessionStatus } from '@wa-session-sync/shared';
import { PROBE_FAILING_ALERT_AFTER, type AlertKind, type EventBus } from '../events/bus';
import { boundedMessage } from '../events/message-body';
import type { Logger } from '../log';
import { viewOf, type SessionRecord } from './record';
import { transition, type SessionEvent } from './state';

/**
 * Moves a session through its state machine and announces what happens to it on the worker's
 * event bus (`events/bus.ts`): status, QR, message, launch outcome, loss, probe verdict, alert.
 * Also keeps the session's counters (`session.ts`) that these events change.
 */
export class SessionEvents {
  constructor(
    private readonly options: {
      bus: EventBus;
      logger: Logger;
      now: () => Date;
    },
  ) {}

  /** Applies a state machine event; publishes the status when it changed. Returns false for an event the table refuses (stale). */
  apply(record: SessionRecord, event: SessionEvent, reason?: string | null): boolean {
    const next = transition(record.status, event);
    if (next === null) {
      this.options.logger.debug('Ignored session event', { sessionId: record.sessionId, status: record.status, event });
      return false;
    }
    const previous = record.status;
    if (reason !== undefined) record.reason = reason;
    if (next === previous) return true;
    record.status = next;
    record.updatedAt = this.options.now();
    this.options.logger.info('Session status changed', { sessionId: record.sessionId, status: next, previous, reason: record.reason });
    this.status(record, previous);
    return true;
  }

  /** Announces the record's current status (also for a record just created: `previous` is the replaced one's). */
  status(record: SessionRecord, previous: SessionStatus | null): void {
    this.options.bus.publish({
      ...this.scope(record),
      type: 'status',
      session: viewOf(record),
      from: previous,
      to: record.status,
      reason: record.reason,
    });
  }

  qr(record: SessionRecord, qr: string): void {
    this.launchSettled(record, 'qr');
    this.options.bus.publish({ ...this.scope(record), type: 'qr', qr });
  }

  /** A pairing code for the record's launch (no status change: the session stays `qr_scanning`). */
  code(record: SessionRecord, code: string): void {
    this.options.bus.publish({ ...this.scope(record), type: 'code', code });
  }

  /** A body over 4 KiB is cut here, for every driver: a backlog of long messages cost 126 KB each. */
  message(record: SessionRecord, message: MessagePayload): void {
    const at = this.options.now();
    record.session.counters.messages++;
    record.session.counters.lastMessageAt = at;
    this.options.bus.publish({ ...this.scope(record), at, type: 'message', message: boundedMessage(message) });
  }

  /** A launch of the record begins (a new generation): its outcome is announced once, by {@link launchSettled}. */
  launchBegan(record: SessionRecord): void {
    record.session.counters.launches++;
    record.launch = { kind: record.launchKind, startedAt: this.options.now() };
  }

  /** The launch under way, if any, has its outcome. Later calls for the same launch do nothing. */
  launchSettled(record: SessionRecord, outcome: 'ready' | 'qr' | 'failed'): void {
    const launch = record.launch;
    if (!launch) return;
    record.launch = null;
    const at = this.options.now();
    this.options.bus.publish({ ...this.scope(record), at, type: 'launch', kind: launch.kind, outcome, duration_ms: at.getTime() - launch.startedAt.getTime() });
  }

  /** The record's client is lost; `attempts` is the reconnect attempt now scheduled (`retry`), or those made so far. */
  loss(record: SessionRecord, reason: string, attempts: number, retry: boolean): void {
    this.launchSettled(record, 'failed');
    this.options.bus.publish({ ...this.scope(record), type: 'loss', reason, attempts, retry });
  }

  /**
   * A live probe's verdict. {@link PROBE_FAILING_ALERT_AFTER} failures in a row (across
   * relaunches, no success between) raise `probe_failing` once; a success starts the count again.
   */
  probe(record: SessionRecord, ok: boolean, reason?: string): void {
    const counters = record.session.counters;
    if (ok) counters.probeFailuresInRow = 0;
    else counters.probeFailuresInRow++;
    this.options.bus.publish({ ...this.scope(record), type: 'probe', ok, ...(reason === undefined ? {} : { reason }) });
    if (!ok && counters.probeFailuresInRow === PROBE_FAILING_ALERT_AFTER) this.alert(record, 'probe_failing', reason ?? 'PROBE_FAILED');
  }

  /** A person must act on this session. */
  alert(record: SessionRecord, kind: AlertKind, reason: string): void {
    this.options.logger.warn('Session alert', { sessionId: record.sessionId, kind, reason, attempts: record.reconnectAttempts });
    this.options.bus.publish({ ...this.scope(record), type: 'alert', kind, reason, attempts: record.reconnectAttempts });
  }

  private scope(record: SessionRecord) {
    return { at: this.options.now(), session_id: record.sessionId, workspace_id: record.workspaceId };
  }
}
