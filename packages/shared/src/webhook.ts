import type { SessionStatus } from './status';

export type WebhookEventName = 'session.status' | 'session.qr' | 'message';

export interface SessionStatusPayload {
  status: SessionStatus;
  previous: SessionStatus | null;
  reason: string | null;
}

export interface SessionQrPayload {
  qr: string;
}

export interface MessagePayload {
  id: string;
  from: string;
  to: string;
  body: string;
  type: string;
  /** Unix seconds, as WhatsApp gives it. */
  timestamp: number;
}

interface EnvelopeBase<E extends WebhookEventName, P> {
  event: E;
  session_id: string;
  workspace_id: string;
  /** ISO-8601 UTC time the worker saw the event. */
  timestamp: string;
  payload: P;
}

export type WebhookEvent =
  | EnvelopeBase<'session.status', SessionStatusPayload>
  | EnvelopeBase<'session.qr', SessionQrPayload>
  | EnvelopeBase<'message', MessagePayload>;

/** Header carrying `sha256=<hex HMAC-SHA256 of the raw body>`. */
export const SIGNATURE_HEADER = 'x-signature';
