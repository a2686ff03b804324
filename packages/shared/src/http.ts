import { Type, type Static, type TInteger, type TOptional } from '@sinclair/typebox';
import { ERROR_CODES } from './error-codes';
import { IdSchema } from './ids';
import { PHONE_NUMBER_PATTERN_SOURCE } from './phone';
import { REASONS } from './reasons';
import { NullableString, StringEnum } from './schema-kinds';
import { SESSION_STATUSES, SessionStatusSchema, type SessionStatus } from './status';

// The worker's HTTP requests and answers, each defined once: the worker validates and serializes
// with these schemas (and documents them at /docs), the CLI checks the worker's answers with them,
// and every TypeScript type is derived from them.

const apiKeyQuery = Type.Optional(
  Type.String({ description: "The API key, for the seed system's scripts; prefer the X-API-Key header" }),
);

/** One session as the worker reports it (`/api/sessions`, `/api/sessions/:session_id`). */
export const WorkerSessionSchema = Type.Object({
  session_id: IdSchema,
  workspace_id: IdSchema,
  status: SessionStatusSchema,
  phone_number: NullableString({ description: 'Digits only, e.g. `62811801641`; null until the session is paired' }),
  updated_at: Type.String({ description: 'ISO-8601 UTC time of the last status change' }),
  qr: Type.Optional(NullableString({ description: 'The QR to scan, while `qr_scanning`' })),
  pairing_code: Type.Optional(
    NullableString({
      description:
        'The code to enter on the phone (8 characters, e.g. `ABCDEFGH`, shown as `ABCD-EFGH`), while `qr_scanning` after a pairing-code request; WhatsApp refreshes it every 3 minutes',
    }),
  ),
  reason: Type.Optional(
    NullableString({
      description: `Why the session is in its status, when the worker knows: ${Object.values(REASONS).join(', ')}, STATE_<state>, or another reason whatsapp-web.js gives`,
    }),
  ),
  reconnect_attempts: Type.Optional(Type.Integer({ minimum: 0, description: 'Reconnect attempts made since the session was last connected' })),
  last_seen_alive_at: Type.Optional(NullableString({ description: 'ISO-8601 UTC time the session was last seen alive' })),
  // Optional: a worker older than the history sends none of these, and the CLI still accepts it.
  uptime_24h: Type.Optional(
    Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], {
      description: 'Share of the last 24 h the session was `connected` while meant to run (started and not stopped on purpose; worker downtime counts as down), 0..1; null when it was not meant to run at all in that time',
    }),
  ),
  uptime_7d: Type.Optional(
    Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], { description: 'The same share over the last 7 days' }),
  ),
  last_message_at: Type.Optional(NullableString({ description: 'ISO-8601 UTC time the last message was received; null before the first' })),
  messages_24h: Type.Optional(Type.Integer({ minimum: 0, description: 'Messages received in the last 24 h (counted per minute)' })),
  // Optional: a worker older than the fleet sends none.
  worker_id: Type.Optional(Type.String({ description: 'WHATSAPP_WORKER_ID of the worker that answered: the one running the session' })),
});
export type WorkerSession = Static<typeof WorkerSessionSchema>;

/** `GET /api/sessions` query. */
export const ListSessionsQuerySchema = Type.Object({ workspace_id: Type.Optional(IdSchema), api_key: apiKeyQuery });
export type ListSessionsQuery = Static<typeof ListSessionsQuerySchema>;

/** `GET /api/sessions` */
export const SessionsListResponseSchema = Type.Object({ sessions: Type.Array(WorkerSessionSchema) });
export type SessionsListResponse = Static<typeof SessionsListResponseSchema>;

/** `POST /api/sessions` body */
export const CreateSessionRequestSchema = Type.Object({ session_id: IdSchema, workspace_id: IdSchema });
export type CreateSessionRequest = Static<typeof CreateSessionRequestSchema>;

/** The path of every `/api/sessions/:session_id...` route. */
export const SessionParamsSchema = Type.Object({ session_id: IdSchema });
export type SessionParams = Static<typeof SessionParamsSchema>;

/** `GET /api/sessions/:session_id/events` query. */
export const SessionEventsQuerySchema = Type.Object({
  since: Type.Optional(Type.String({ description: 'ISO-8601 time: only the entries at or after it' })),
  api_key: apiKeyQuery,
});
export type SessionEventsQuery = Static<typeof SessionEventsQuerySchema>;

/**
 * One entry of a session's history: a status change (`from` null for a session just registered),
 * or the worker starting or stopping (`from` and `to` null, `reason` `WORKER_STARTED` /
 * `WORKER_STOPPED`; after a crash the stop is dated at the worker's last heartbeat).
 */
export const SessionHistoryEntrySchema = Type.Object({
  at: Type.String({ description: 'ISO-8601 UTC time' }),
  from: Type.Union([SessionStatusSchema, Type.Null()]),
  to: Type.Union([SessionStatusSchema, Type.Null()]),
  reason: NullableString({ description: 'The status reason, or `WORKER_STARTED` / `WORKER_STOPPED` for an entry of the worker' }),
});
export type SessionHistoryEntry = Static<typeof SessionHistoryEntrySchema>;

/** `GET /api/sessions/:session_id/events`: oldest first, 30 days or 2,000 entries at most. */
export const SessionEventsResponseSchema = Type.Object({ events: Type.Array(SessionHistoryEntrySchema) });
export type SessionEventsResponse = Static<typeof SessionEventsResponseSchema>;

/** `GET /api/sessions/:session_id/qr` query. */
export const QrQuerySchema = Type.Object({
  format: Type.Optional(StringEnum(['json', 'png'], { description: '`png`: the QR as an image' })),
  v: Type.Optional(
    Type.String({
      maxLength: 16,
      description:
        "The tag of the QR a page shows (the dashboard's): a PNG asked for a QR the session showed within the last minute is served even if the session has moved on (scanned, refreshed) since the page saw it",
    }),
  ),
  api_key: apiKeyQuery,
});
export type QrQuery = Static<typeof QrQuerySchema>;

/** `GET /api/sessions/:session_id/qr` (JSON) */
export const QrResponseSchema = Type.Object({ qr: Type.String() });
export type QrResponse = Static<typeof QrResponseSchema>;

/** `GET /api/sessions/:session_id/qr?format=png`: the QR as an image (documentation only: a Buffer is sent as it is). */
export const QrPngSchema = Type.Unsafe<Uint8Array>({ type: 'string', format: 'binary' });

/**
 * `POST /api/sessions/:session_id/pairing-code` body: the phone's number with its country code,
 * the shared phone pattern (a leading `+` is dropped before WhatsApp sees it).
 */
export const PairingCodeRequestSchema = Type.Object({
  phone_number: Type.String({
    pattern: PHONE_NUMBER_PATTERN_SOURCE,
    description: 'The number of the phone that will link the session, country code first, digits only (a leading `+` is accepted), e.g. `6281234567890`',
  }),
});
export type PairingCodeRequest = Static<typeof PairingCodeRequestSchema>;

/** `POST /api/sessions/:session_id/pairing-code` */
export const PairingCodeResponseSchema = Type.Object({
  code: Type.String({ description: 'The code to enter on the phone (WhatsApp › Linked devices › Link with phone number instead), e.g. `ABCDEFGH`' }),
});
export type PairingCodeResponse = Static<typeof PairingCodeResponseSchema>;

/** `DELETE /api/sessions/:session_id` query. */
export const StopSessionQuerySchema = Type.Object({
  logout: Type.Optional(Type.Boolean({ description: 'Also log out and delete the saved auth' })),
  api_key: apiKeyQuery,
});
export type StopSessionQuery = Static<typeof StopSessionQuerySchema>;

/** `DELETE /api/sessions/:session_id` */
export const StopSessionResponseSchema = Type.Object({ session_id: IdSchema, stopped: Type.Boolean(), logged_out: Type.Boolean() });
export type StopSessionResponse = Static<typeof StopSessionResponseSchema>;

const statusCounts = Object.fromEntries(SESSION_STATUSES.map((status) => [status, Type.Optional(Type.Integer({ minimum: 0 }))])) as {
  [S in SessionStatus]: TOptional<TInteger>;
};

/** `GET /health` */
export const HealthResponseSchema = Type.Object({
  status: Type.Literal('ok'),
  uptime: Type.Number({ description: 'Seconds since the worker started' }),
  sessions: Type.Object({
    total: Type.Integer({ minimum: 0 }),
    connected: Type.Integer({ minimum: 0 }),
    by_status: Type.Object(statusCounts, { description: 'Sessions per status; a status none is in is left out' }),
  }),
  memory: Type.Object(
    { rss: Type.Integer(), heapUsed: Type.Integer(), heapTotal: Type.Integer(), external: Type.Integer() },
    { description: "The worker process's memory in bytes (Chromium not included)" },
  ),
  version: Type.String(),
  worker_id: Type.Optional(Type.String({ description: 'WHATSAPP_WORKER_ID (default: the host name): this worker among several' })),
  capacity: Type.Object(
    {
      max: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
        description:
          'WHATSAPP_MAX_SESSIONS, else the default cap: the machine memory above WHATSAPP_MIN_FREE_MEMORY_MB over WHATSAPP_SESSION_MEMORY_MB; null: no cap',
      }),
      used: Type.Integer({ minimum: 0, description: 'Sessions holding (or about to hold) a browser' }),
    },
    { description: 'How many sessions this worker takes, so a caller can place sessions' },
  ),
});
export type HealthResponse = Static<typeof HealthResponseSchema>;

/** The `code` of an error answer: one of the worker's error codes. */
export const ErrorCodeSchema = StringEnum(ERROR_CODES);

/** Every error answer of the worker. */
export const ErrorResponseSchema = Type.Object({
  error: Type.Object({
    code: ErrorCodeSchema,
    message: Type.String(),
    /** `session_leased_elsewhere`: the worker id that holds the session's lease. */
    holder: Type.Optional(Type.String()),
  }),
});
export type ErrorResponse = Static<typeof ErrorResponseSchema>;
