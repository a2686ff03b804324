import type { MessagePayload } from '@wa-session-sync/shared';

/** Which session a client is for, and where its profile lives. */
export interface ClientSpec {
  workspaceId: string;
  sessionId: string;
  /** `<sessionsDir>/<workspaceId>/<sessionId>`; LocalAuth keeps the Chromium profile in `<folder>/session`. */
  folder: string;
}

/** What a client reports. Handlers are called for one client only; the manager ignores stale ones. */
export interface ClientEvents {
  qr(qr: string): void;
  authenticated(): void;
  /** Ready: messages flow. `phone` is the paired number, digits only. */
  ready(phone: string | null): void;
  /** whatsapp-web.js `disconnected` (`LOGOUT`, `CONFLICT`, ...). */
  disconnected(reason: string): void;
  /** Pairing refused by WhatsApp. */
  authFailure(message: string): void;
  /** An incoming message. */
  message(message: MessagePayload): void;
  /** The browser or the page died (whatsapp-web.js does not report this). */
  browserGone(reason: string): void;
}

/** One whatsapp-web.js client, as much of it as the manager needs. */
export interface SessionClient {
  /** Launches Chromium and loads WhatsApp Web; resolves before `ready` (or `qr`). */
  initialize(): Promise<void>;
  /** The page's socket state (`CONNECTED`, ...). May never settle on a wedged page: call it under a timeout. */
  getState(): Promise<string | null>;
  /** The browser is connected and the page is open. */
  isAlive(): boolean;
  /** Closes the browser, keeping the saved auth. */
  destroy(): Promise<void>;
  /** Logs the device out on WhatsApp's side and deletes the saved auth. */
  logout(): Promise<void>;
  /** SIGKILLs the browser's process group; resolves once it has exited (or was never started). */
  kill(): Promise<void>;
  /** Pid of the browser process, when launched. */
  browserPid(): number | null;
}

/** Makes clients. The real one wraps whatsapp-web.js; unit tests use a fake. */
export interface SessionDriver {
  create(spec: ClientSpec, events: ClientEvents): SessionClient;
  /** The Chromium profile directory of a session folder (for stale lock and process checks). */
  profileDir(folder: string): string;
}
