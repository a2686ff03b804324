/**
 * Every `code` of the worker's errors, lower snake case: the `code` of its HTTP answers'
 * `{"error":{"code","message"}}`, then those of boot, which never reach HTTP.
 */
export const ERROR_CODES = [
  // 400: a body, path or query that fails its schema, or a body that is not valid JSON.
  'invalid_request',
  // 400: an id that does not match the contract's pattern.
  'invalid_id',
  // 4xx: anything else the client got wrong.
  'bad_request',
  // 401: no API key, or the wrong one.
  'unauthorized',
  // 403: a state change signed in by the dashboard's cookie from a page of another origin.
  'forbidden_origin',
  // 429: too many failed authentications from one address (with Retry-After).
  'too_many_requests',
  // 404: no such route.
  'not_found',
  // 404: the worker does not hold the session.
  'session_not_found',
  // 409: the session exists under another workspace.
  'session_workspace_mismatch',
  // 409: the session shows no QR now.
  'qr_not_available',
  // 409: a pairing code was asked for a session not waiting to be paired (not `qr_scanning`).
  'not_pairing',
  // 409: the worker is shutting down.
  'worker_stopping',
  // 409: another worker holds the session's lease (WHATSAPP_AUTH_STORE=postgres); the answer names it (`holder`).
  'session_leased_elsewhere',
  // 503: the database that holds the leases did not answer (WHATSAPP_AUTH_STORE=postgres).
  'lease_store_unavailable',
  // 503: a start over WHATSAPP_MAX_SESSIONS or under WHATSAPP_MIN_FREE_MEMORY_MB (with Retry-After).
  'capacity_exhausted',
  // 413: a body over 1 MiB.
  'payload_too_large',
  // 415: a body of a content type the worker does not read.
  'unsupported_media_type',
  // 500: a failure of the worker itself (details only in its log).
  'internal_error',
  // Boot: an environment variable is missing or malformed.
  'config_invalid',
  // Boot: no Chromium to launch.
  'chromium_not_found',
  // Boot: another worker holds the sessions folder.
  'sessions_dir_locked',
  // Boot: the sessions folder cannot be locked (no flock(1), or a lock file that is not a regular file of the worker's user).
  'sessions_dir_unlockable',
  // Boot: WHATSAPP_AUTH_STORE=postgres, and the database cannot be reached or lacks the tables (`wa-sync migrate`).
  'auth_store_unavailable',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];
