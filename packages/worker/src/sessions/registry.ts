import type { WorkerSession } from '@wa-session-sync/shared';
import { SessionNotFoundError } from '../errors';
import { viewOf, type SessionRecord } from './record';
import { Session } from './session';

/**
 * Which sessions the worker holds, one record per session id (the current launch), and the
 * {@link Session} object of every session it knows (kept across launches and stops). Every change is synchronous, so a
 * session is reserved before any await and a concurrent start sees it.
 */
export class SessionRegistry {
  private readonly records = new Map<string, SessionRecord>();
  private readonly sessions = new Map<string, Session>();

  /** The session object for this id, the one already known if any (same workspace), else a new one. */
  session(workspaceId: string, sessionId: string, folder: string): Session {
    const known = this.sessions.get(sessionId);
    if (known && known.workspaceId === workspaceId) return known;
    const session = new Session(workspaceId, sessionId, folder);
    this.sessions.set(sessionId, session);
    return session;
  }

  /** The session object of this id, while the worker knows the session (held, or stopped and not forgotten). */
  known(sessionId: string): Session | undefined {
    return this.sessions.get(sessionId);
  }

  /** Forgets the session object too (logged out, or forgotten after a day stopped). */
  forget(sessionId: string): void {
    if (!this.records.has(sessionId)) this.sessions.delete(sessionId);
  }

  find(sessionId: string): SessionRecord | undefined {
    return this.records.get(sessionId);
  }

  /** The record; `SessionNotFoundError` when the worker does not hold the session. */
  get(sessionId: string): SessionRecord {
    const record = this.records.get(sessionId);
    if (!record) throw new SessionNotFoundError(sessionId);
    return record;
  }

  all(): SessionRecord[] {
    return [...this.records.values()];
  }

  views(workspaceId?: string): WorkerSession[] {
    return this.all()
      .filter((r) => workspaceId === undefined || r.workspaceId === workspaceId)
      .map(viewOf);
  }

  /** Makes `record` the session's record, replacing any earlier one. */
  put(record: SessionRecord): void {
    this.records.set(record.sessionId, record);
    this.sessions.set(record.sessionId, record.session);
    record.session.current = record;
  }

  remove(record: SessionRecord): void {
    if (this.records.get(record.sessionId) !== record) return;
    this.records.delete(record.sessionId);
    if (record.session.current === record) record.session.current = null;
  }

  clear(): void {
    for (const record of this.records.values()) record.session.current = null;
    this.records.clear();
    this.sessions.clear();
  }

  /** `record` is still the session's record and its client of `generation` is still its client. */
  isCurrent(record: SessionRecord, generation: number): boolean {
    return this.records.get(record.sessionId) === record && record.generation === generation;
  }

  /** `record` is still the session's record (not stopped or replaced). */
  holds(record: SessionRecord): boolean {
    return this.records.get(record.sessionId) === record;
  }
}
