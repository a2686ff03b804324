import { randomUUID } from 'node:crypto';
import type { MessagePayload, SessionStatus, WorkerSession } from '@wa-session-sync/shared';
import { boundedMessage } from '../events/message-body';
import type { EventSink } from '../events/webhook';
import type { Logger } from '../log';
import { viewOf, type SessionRecord } from './record';
import { transition, type SessionEvent } from './state';

/**
 * Moves a session through its state machine and announces what changed: a log line, a webhook
 * event (`session.status`, `session.qr`, `message`) and the `onStatus` callback (the manager's
 * `status` event, which restore and tests wait on).
 */
export class SessionEvents {
  constructor(
    private readonly options: {
      sink: EventSink;
      logger: Logger;
      now: () => Date;
      onStatus: (session: WorkerSession) => void;
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
    this.options.sink.publish({
      ...this.envelope(record, 'session.status'),
      payload: { status: record.status, previous, reason: record.reason },
    });
    this.options.onStatus(viewOf(record));
  }

  qr(record: SessionRecord, qr: string): void {
    this.options.sink.publish({ ...this.envelope(record, 'session.qr'), payload: { qr } });
  }

  /** A body over 4 KiB is cut here, for every driver: a backlog of long messages cost 126 KB each. */
  message(record: SessionRecord, message: MessagePayload): void {
    this.options.sink.publish({ ...this.envelope(record, 'message'), payload: boundedMessage(message) });
  }

  private envelope<E extends 'session.status' | 'session.qr' | 'message'>(record: SessionRecord, event: E) {
    return { id: randomUUID(), event, session_id: record.sessionId, workspace_id: record.workspaceId, timestamp: this.options.now().toISOString() };
  }
}
