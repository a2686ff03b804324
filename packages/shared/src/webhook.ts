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

/** `message` payload: a message the session received. */
export const MessagePayloadSchema = Type.Object({
  id: Type.String(),
  from: Type.String(),
  to: Type.String(),
  body: Type.String(),
  type: Type.String(),
  timestamp: Type.Number({ description: 'Unix seconds, as WhatsApp gives it' }),
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
]);
export type WebhookEvent = Static<typeof WebhookEventSchema>;

export type WebhookEventName = WebhookEvent['event'];

/** Header carrying `sha256=<hex HMAC-SHA256 of the raw body>`. */
export const SIGNATURE_HEADER = 'x-signature';

/** Header carrying the event's `id`: a receiver that saw it already is looking at a retry. */
export const WEBHOOK_ID_HEADER = 'x-webhook-id';
