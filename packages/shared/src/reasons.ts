/**
 * Why a session is in its status (the `reason` of a session view and of a `session.status`
 * event): one list shared by the worker and the CLI. whatsapp-web.js's own disconnect reasons
 * (`CONFLICT`, `UNPAIRED`, ...) arrive as they are, so a reason is any string; these are the ones
 * the two processes act on or set themselves.
 */
export const REASONS = {
  /** The phone unlinked this device: a person must scan a QR again; never revived by anyone. */
  LOGOUT: 'LOGOUT',
  /** Nobody scanned the QR in time: the session was stopped; a person must start it again. */
  QR_TIMEOUT: 'QR_TIMEOUT',
  /** A connected page did not answer `getState()` within the probe timeout (a wedged page). */
  PROBE_TIMEOUT: 'PROBE_TIMEOUT',
  /** `getState()` failed on a connected page. */
  PROBE_FAILED: 'PROBE_FAILED',
  /** The probe found the browser disconnected or the page closed. */
  BROWSER_GONE: 'BROWSER_GONE',
  /** puppeteer reported the browser disconnected. */
  BROWSER_CLOSED: 'BROWSER_CLOSED',
  /** The page closed under the client. */
  PAGE_CLOSED: 'PAGE_CLOSED',
  /** The page crashed. */
  PAGE_CRASHED: 'PAGE_CRASHED',
  /** Chromium or WhatsApp Web could not be started (or did not load within the init timeout). */
  LAUNCH_FAILED: 'LAUNCH_FAILED',
  /** The session was `authenticated` but not `connected` within WHATSAPP_READY_TIMEOUT_SECONDS: closed, handled as a failed launch. */
  READY_TIMEOUT: 'READY_TIMEOUT',
  /**
   * Available memory was under WHATSAPP_MIN_FREE_MEMORY_MB (with the launches under way counted)
   * when the launch's turn came: no browser was started; handled as a failed launch.
   */
  LOW_MEMORY: 'LOW_MEMORY',
  /** WhatsApp refused the saved pairing. */
  AUTH_FAILURE: 'AUTH_FAILURE',
  /** WhatsApp Web was opened elsewhere (whatsapp-web.js `disconnected('CONFLICT')`). */
  CONFLICT: 'CONFLICT',
  /**
   * WHATSAPP_AUTH_STORE=postgres: this worker could not renew the session's lease in time (the
   * database unreachable or slow) or lost it, so it closed the session's Chromium before the lease
   * could lapse; relaunched here only if the lease can be taken again.
   */
  LEASE_LOST: 'LEASE_LOST',
  /** WHATSAPP_AUTH_STORE=postgres: another worker holds the session's lease; this one does not run it. */
  LEASED_ELSEWHERE: 'LEASED_ELSEWHERE',
  /** Stopped on request (`DELETE` without logout). */
  STOPPED: 'STOPPED',
  /** Stopped and logged out on request (`DELETE ?logout=true`). */
  LOGGED_OUT: 'LOGGED_OUT',
} as const;

export type KnownReason = (typeof REASONS)[keyof typeof REASONS];

/** The probe's verdict for a page whose socket is not CONNECTED: `STATE_<state>`. */
export function stateReason(state: string | null): string {
  return `STATE_${state ?? 'UNKNOWN'}`;
}
