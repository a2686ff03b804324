// A type-only import: the entry point loads this module before anything else, and the shared
// package's schemas (TypeBox) are not to be loaded that early.
import type { ErrorCode } from '@wa-session-sync/shared';

/**
 * Named errors of the worker. Each carries a stable `code` out of the shared `ERROR_CODES` that
 * reaches HTTP answers (`{"error":{"code","message"}}`) and logs; messages never include secret values.
 */
export class WorkerError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** HTTP status this error maps to at the edge. */
    readonly statusCode = 500,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Thrown at boot when an environment variable is missing or malformed (the worker exits 2). */
export class ConfigError extends WorkerError {
  constructor(message: string) {
    super('config_invalid', message, 500);
  }
}

/** Thrown at boot when no browser can be found to launch (or `PUPPETEER_EXECUTABLE_PATH` names none). */
export class ChromiumNotFoundError extends WorkerError {
  constructor(configured?: string) {
    super(
      'chromium_not_found',
      configured
        ? `PUPPETEER_EXECUTABLE_PATH=${configured} is not an executable file: point it at Chromium, or unset it to let the worker find one`
        : 'No Chromium found: install chromium-headless-shell (apt-get install chromium-headless-shell), or run npm ci again so that the bundled @sparticuz/chromium is there, or set PUPPETEER_EXECUTABLE_PATH',
      500,
    );
  }
}

/** Thrown when a request names a session the worker does not hold. */
export class SessionNotFoundError extends WorkerError {
  constructor(sessionId: string) {
    super('session_not_found', `Session ${sessionId} not found`, 404);
  }
}

/** Thrown when a session exists but not in the state the request needs (e.g. no QR to show). */
export class SessionStateError extends WorkerError {
  constructor(code: ErrorCode, message: string) {
    super(code, message, 409);
  }
}

/** Thrown when an id does not match the contract's pattern or would leave its folder. */
export class InvalidIdError extends WorkerError {
  constructor(what: string) {
    super('invalid_id', `${what} must match ^[A-Za-z0-9_-]{1,100}$`, 400);
  }
}

/** Thrown at the HTTP edge for a non-empty body of a content type the worker does not read. */
export class UnsupportedMediaTypeError extends WorkerError {
  constructor(contentType: string | undefined) {
    super(
      'unsupported_media_type',
      contentType ? `Content-Type ${contentType.slice(0, 100)} is not accepted: send application/json` : 'A body needs a Content-Type: send application/json',
      415,
    );
  }
}

/** Thrown when a start would take the worker over `WHATSAPP_MAX_SESSIONS` or under `WHATSAPP_MIN_FREE_MEMORY_MB` (`503` with `Retry-After`). */
export class CapacityExhaustedError extends WorkerError {
  constructor(
    message: string,
    /** Seconds after which a caller may try again (`Retry-After`). */
    readonly retryAfterSec: number,
  ) {
    super('capacity_exhausted', message, 503);
  }
}

/**
 * Thrown by a logout (`DELETE ?logout=true`) whose session folder is reached through a symbolic
 * link out of the sessions folder: the session is stopped, its folder is not deleted (a recursive
 * delete would empty the link's target).
 */
export class SessionFolderOutsideError extends WorkerError {
  constructor(folder: string) {
    super(
      'internal_error',
      `The session is stopped, but its folder ${folder} leads out of the sessions folder through a symbolic link, so its saved login was not deleted: remove the link by hand`,
      500,
    );
  }
}

/** Thrown at the HTTP edge for a client address over its failed authentications (`429` with `Retry-After`). */
export class TooManyRequestsError extends WorkerError {
  constructor(
    /** Seconds after which the address may try again (`Retry-After`). */
    readonly retryAfterSec: number,
  ) {
    super('too_many_requests', `Too many failed authentications from this address: try again in ${retryAfterSec} s`, 429);
  }
}

/**
 * Thrown at the HTTP edge for a state-changing request authenticated by the dashboard's cookie
 * whose `Origin` is not the worker's own (or is missing): a page of another origin, the same host
 * at another port included, cannot act with the operator's sign-in (`403`).
 */
export class ForbiddenOriginError extends WorkerError {
  constructor() {
    super('forbidden_origin', "A signed-in change must come from the dashboard's own origin", 403);
  }
}

/**
 * WHATSAPP_AUTH_STORE=postgres: another worker holds the session's lease (`409`, naming it): this
 * worker launches nothing, since two clients on one linked device corrupt its keys.
 */
export class SessionLeasedElsewhereError extends WorkerError {
  constructor(
    sessionId: string,
    /** The worker id that holds the lease. */
    readonly holder: string,
    expiresAt: Date,
  ) {
    super(
      'session_leased_elsewhere',
      `Session ${sessionId} runs on worker ${holder} (its lease runs until ${expiresAt.toISOString()}): stop it there first, or wait for that lease to lapse if ${holder} is gone`,
      409,
    );
  }
}

/** WHATSAPP_AUTH_STORE=postgres: the lease could not be taken because the database did not answer (`503`). */
export class LeaseStoreUnavailableError extends WorkerError {
  constructor(
    sessionId: string,
    cause: string,
    readonly retryAfterSec = 5,
  ) {
    super('lease_store_unavailable', `Cannot take the lease of session ${sessionId}: the database did not answer (${cause})`, 503);
  }
}
