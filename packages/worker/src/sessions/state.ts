import type { SessionStatus } from '@wa-session-sync/shared';

/**
 * What can happen to a session. The manager turns client events and its own decisions into
 * these; {@link transition} says which status follows.
 */
export type SessionEvent =
  /** a new client is being launched (POST, restore, reconnect route) */
  | 'start'
  /** whatsapp-web.js shows a QR */
  | 'qr'
  /** the phone's pairing was accepted */
  | 'authenticated'
  /** whatsapp-web.js is ready: messages flow */
  | 'ready'
  /** the connection, browser or page was lost (or a launch failed); a retry is scheduled */
  | 'lost'
  /** lost, and the worker will not retry by itself (auto-reconnect off) */
  | 'dropped'
  /** reconnect attempts exhausted */
  | 'exhausted'
  /** the phone unlinked this device: a new QR is needed */
  | 'logout'
  /** stopped on request (DELETE, shutdown) */
  | 'stop';

const ALIVE_LOSSES = { lost: 'reconnecting', dropped: 'disconnected', exhausted: 'failed', stop: 'disconnected' } as const;

/** The whole state machine: `TRANSITIONS[from][event]` is the next status; absent means not allowed. */
export const TRANSITIONS: Readonly<Record<SessionStatus, Partial<Record<SessionEvent, SessionStatus>>>> = {
  initializing: { qr: 'qr_scanning', authenticated: 'authenticated', ready: 'connected', logout: 'qr_scanning', ...ALIVE_LOSSES },
  qr_scanning: { qr: 'qr_scanning', authenticated: 'authenticated', ready: 'connected', logout: 'qr_scanning', ...ALIVE_LOSSES },
  authenticated: { qr: 'qr_scanning', ready: 'connected', logout: 'qr_scanning', ...ALIVE_LOSSES },
  connected: { logout: 'qr_scanning', ...ALIVE_LOSSES },
  // While reconnecting, the status stays `reconnecting` until the new client is ready (or needs a QR).
  reconnecting: { qr: 'qr_scanning', authenticated: 'reconnecting', ready: 'connected', logout: 'qr_scanning', ...ALIVE_LOSSES },
  disconnected: { start: 'initializing', stop: 'disconnected' },
  failed: { start: 'initializing', stop: 'disconnected' },
};

/** The status after `event` in `from`, or null when the table does not allow it (a stale event). */
export function transition(from: SessionStatus, event: SessionEvent): SessionStatus | null {
  return TRANSITIONS[from][event] ?? null;
}

/** Statuses in which a session holds (or is launching) a browser. */
export function holdsBrowser(status: SessionStatus): boolean {
  return status !== 'disconnected' && status !== 'failed';
}
