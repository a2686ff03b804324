import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { IdSchema } from './ids';
import { NullableString } from './schema-kinds';
import { SessionStatusSchema } from './status';

// The webhook envelope the worker POSTs to WHATSAPP_WEBHOOK_URL, and its payloads.

/** `session.status` payload. */
export const SessionStatusPayloadSchema = Type.Object({
  status: SessionStatusSchema,
  previous: Type.Union([SessionStatusSchema, Type.Null()]),
  reason: NullableString(),
});
export type SessionStatusPayload = Static<typeof SessionStatusPayloadSchema>;

/** `session.qr` payload. */
export const SessionQrPayloadSchema = Type.Object({ qr: Type.String() });
export type SessionQrPayload = Static<typeof SessionQrPayloadSchema>;

/** What a `session.alert` is about: each is a situation the worker cannot heal by itself. */
export const AlertKindSchema = Type.Union([
  Type.Literal('reconnect_exhausted'),
  Type.Literal('qr_timeout'),
  Type.Literal('logged_out'),
  Type.Literal('probe_failing'),
  // WHATSAPP_AUTH_STORE=postgres: the session's login is larger than WHATSAPP_AUTH_SNAPSHOT_MAX_MB, so
  // it is not saved in the database and cannot move to another worker without a QR.
  Type.Literal('auth_snapshot_too_large'),
]);
export type AlertKindName = Static<typeof AlertKindSchema>;

/** `session.alert` payload: a person must act (link the phone again, look at a session that keeps failing). */
export const SessionAlertPayloadSchema = Type.Object({
  kind: AlertKindSchema,
  reason: Type.String(),
  attempts: Type.Integer({ minimum: 0, description: 'Reconnect attempts made when the alert was raised' }),
});
export type SessionAlertPayload = Static<typeof SessionAlertPayloadSchema>;

/** A `message` body longer than this many UTF-8 bytes is cut (on a character boundary) and marked `truncated`. */
export const MESSAGE_BODY_MAX_BYTES = 4096;

/** `message` payload: a message the session received. */
export const MessagePayloadSchema = Type.Object({
  id: Type.String(),
  from: Type.String(),
  to: Type.String(),
  body: Type.String({ description: `At most ${MESSAGE_BODY_MAX_BYTES} bytes in UTF-8` }),
  type: Type.String(),
  timestamp: Type.Number({ description: 'Unix seconds, as WhatsApp gives it' }),
  truncated: Type.Optional(Type.Literal(true, { description: `Present when the body was longer than ${MESSAGE_BODY_MAX_BYTES} bytes and was cut` })),
});
export type MessagePayload = Static<typeof MessagePayloadSchema>;

function envelope<E extends string, P extends TSchema>(event: E, payload: P) {
  return Type.Object({
    id: Type.String({ description: 'Unique per event and the same on every retry (also the X-Webhook-Id header)' }),
    event: Type.Literal(event),
    session_id: IdSchema,
    workspace_id: IdSchema,
    timestamp: Type.String({ description: 'ISO-8601 UTC time the worker saw the event' }),
    payload,
  });
}

/** The body of every webhook delivery. */
export const WebhookEventSchema = Type.Union([
  envelope('session.status', SessionStatusPayloadSchema),
  envelope('session.qr', SessionQrPayloadSchema),
  envelope('message', MessagePayloadSchema),
  envelope('session.alert', SessionAlertPayloadSchema),
]);
export type WebhookEvent = Static<typeof WebhookEventSchema>;

export type WebhookEventName = WebhookEvent['event'];

/** Header carrying `sha256=<hex HMAC-SHA256 of the raw body>` (no time: kept for existing receivers). */
export const SIGNATURE_HEADER = 'x-signature';

/** Header carrying the attempt's send time in Unix seconds (each retry is signed anew). */
export const TIMESTAMP_HEADER = 'x-webhook-timestamp';

/**
 * Header carrying `t=<the same seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`: the time is
 * signed, so a receiver can refuse a captured delivery replayed later.
 */
export const TIMESTAMPED_SIGNATURE_HEADER = 'x-webhook-signature';

/** Header carrying the event's `id`: a receiver that saw it already is looking at a retry. */
export const WEBHOOK_ID_HEADER = 'x-webhook-id';
