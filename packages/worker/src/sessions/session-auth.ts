/** Which session, and where its profile lives. */
export interface AuthTarget {
  workspaceId: string;
  sessionId: string;
  /** `<sessionsDir>/<workspaceId>/<sessionId>`; the Chromium profile is `<folder>/session`. */
  folder: string;
}

/** What happened to a session whose browser is gone and is not relaunched here. */
export type AuthEnd =
  /** Stopped on request, the worker shutting down, a QR given up: a final save, then the lease let go. */
  | 'stopped'
  /** Logged out on request: the saved login deleted (under the current lease), then the lease let go. */
  | 'logged_out'
  /** Given up (reconnects exhausted, dropped, held elsewhere): the lease let go, nothing saved. */
  | 'abandoned';

/**
 * Where a session's login lives beyond its Chromium profile, and who may run it: the seam between
 * the sessions and `WHATSAPP_AUTH_STORE`. With `local` (the default) every hook does nothing: the
 * profile on this machine's disk is the login. With `postgres` (`portable/portable-auth.ts`) each
 * session runs under a lease with a fencing token, and its login is saved to and restored from
 * the database, so another worker can take it over without a QR and never while this one runs it.
 */
export interface SessionAuth {
  /** `postgres` or `local`, for logs and `/health`. */
  readonly kind: 'local' | 'postgres';
  /**
   * Before a start, a reconnect or a restore registers the session: makes sure this worker may run
   * it (takes its lease, or finds it already held here). Throws `SessionLeasedElsewhereError` when
   * another worker holds it, `LeaseStoreUnavailableError` when the database does not answer.
   * Resolves `fresh` when the lease was taken by this call (the caller lets it go if it then does
   * not run the session).
   */
  claim(target: AuthTarget): Promise<{ fresh: boolean }>;
  /**
   * In the launch, before Chromium starts: the lease is still this worker's (taken again if it was
   * lost meanwhile), and the profile holds the newest saved login (restored from the store when
   * another worker saved one since). Throws like {@link claim}; a launch that fails here starts no browser.
   */
  beforeLaunch(target: AuthTarget): Promise<void>;
  /** The browser's process group (its leader's pid), for the watchdog that kills it before a lease could lapse. */
  browserStarted(target: AuthTarget, pid: number): void;
  /** That browser has exited (closed or killed): the watchdog forgets it, so a reused pid is never killed. */
  browserClosed(target: AuthTarget, pid: number): void;
  /** The session is connected: its login is saved once the profile has settled, then again whenever it changed. */
  ready(target: AuthTarget): void;
  /** The client is lost (it will be relaunched or given up): no more saves from its running browser. */
  paused(target: AuthTarget): void;
  /** The phone unlinked this device: the saved login is deleted under the current lease. */
  loggedOutByPhone(target: AuthTarget): void;
  /** The session's browser is closed and it is not relaunched here (see {@link AuthEnd}). Never throws. */
  ended(target: AuthTarget, how: AuthEnd): Promise<void>;
  /** Stops saving and renewing (after the sessions have ended); lets go of nothing more. */
  close(): Promise<void>;
}

/** `WHATSAPP_AUTH_STORE=local`: the profile on disk is the login, and nobody else runs this worker's sessions. */
export const LOCAL_AUTH: SessionAuth = {
  kind: 'local',
  claim: async () => ({ fresh: false }),
  beforeLaunch: async () => undefined,
  browserStarted: () => undefined,
  browserClosed: () => undefined,
  ready: () => undefined,
  paused: () => undefined,
  loggedOutByPhone: () => undefined,
  ended: async () => undefined,
  close: async () => undefined,
};
