import type { MessagePayload } from '@wa-session-sync/shared';

/** Which session a client is for, and where its profile lives. */
export interface ClientSpec {
  workspaceId: string;
  sessionId: string;
  /** `<sessionsDir>/<workspaceId>/<sessionId>`; LocalAuth keeps the Chromium profile in `<folder>/session`. */
  folder: string;
}

/** What a client reports. Handlers are called for one client only; the lifecycle ignores stale ones. */
export interface ClientEvents {
  qr(qr: string): void;
  /** A pairing code to enter on the phone: the one {@link SessionClient.requestPairingCode} answers, then each refresh. */
  code(code: string): void;
  authenticated(): void;
  /** Ready: messages flow. `phone` is the paired number, digits only. */
  ready(phone: string | null): void;
  /** whatsapp-web.js `disconnected` (`LOGOUT`, `CONFLICT`, ...). */
  disconnected(reason: string): void;
  /** Pairing refused by WhatsApp. */
  authFailure(message: string): void;
  /** An incoming message. */
  message(message: MessagePayload): void;
  /** Chromium is running: `pid` leads its process group (every helper of it). */
  browserStarted?(pid: number): void;
  /** The browser or the page died (whatsapp-web.js does not report this). */
  browserGone(reason: string): void;
}

/** One whatsapp-web.js client, as much of it as the sessions need. */
export interface SessionClient {
  /** Launches Chromium and loads WhatsApp Web; resolves before `ready` (or `qr`). */
  initialize(): Promise<void>;
  /** The page's socket state (`CONNECTED`, ...). May never settle on a wedged page: call it under a timeout. */
  getState(): Promise<string | null>;
  /**
   * Asks WhatsApp Web for a code that links the session when entered on the phone of
   * `phoneNumber` (digits, country code first), instead of scanning the QR. Only while the page
   * shows a QR. The page refreshes the code every 3 minutes (each one reported by `code`); a new
   * request replaces the current one. May never settle on a wedged page: call it under a timeout.
   */
  requestPairingCode(phoneNumber: string): Promise<string>;
  /** The browser is connected and the page is open. */
  isAlive(): boolean;
  /** Closes the browser, keeping the saved auth. */
  destroy(): Promise<void>;
  /** Logs the device out on WhatsApp's side and deletes the saved auth. */
  logout(): Promise<void>;
  /** SIGKILLs the browser's process group; resolves once it has exited (or was never started). */
  kill(): Promise<void>;
}

/**
 * The operating system's side of a session folder's Chromium profile: who holds it, waiting for
 * that browser to exit, killing what is left on it, clearing stale locks. Behind the driver so
 * that tests with the fake driver never touch `/proc`.
 */
export interface ProfileHost {
  /** The pid of a live Chromium of this host holding the folder's profile, else null. */
  liveHolder(folder: string): Promise<number | null>;
  /** Resolves true once `pid` has exited, false if it still runs after `timeoutMs`. */
  waitForExit(pid: number, timeoutMs: number): Promise<boolean>;
  /** SIGKILLs every process running on the folder's profile (with its process group); the pids killed. */
  killProfileProcesses(folder: string): Promise<number[]>;
  /** Removes Chromium's stale `Singleton*` lock files from the folder's profile; the names removed. */
  removeStaleLocks(folder: string): Promise<string[]>;
}

/** Makes clients, and answers for their profiles. The real one wraps whatsapp-web.js; unit tests use a fake. */
export interface SessionDriver {
  create(spec: ClientSpec, events: ClientEvents): SessionClient;
  readonly profiles: ProfileHost;
}
