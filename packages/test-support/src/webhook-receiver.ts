import { createHmac, randomBytes } from 'node:crypto';
import type { WebhookEvent } from '@wa-session-sync/shared';
import { readBody, startLocalServer } from './http';

/** One webhook delivery the receiver accepted. */
export interface ReceivedWebhook {
  /** The body exactly as sent (what the signature covers). */
  raw: string;
  event: WebhookEvent;
  /** The `X-Signature` header. */
  signature: string | undefined;
  /** `X-Signature` is `sha256=<HMAC-SHA256 of raw under the receiver's secret>`. */
  signatureValid: boolean;
  /** The `X-Webhook-Id` header. */
  webhookId: string | undefined;
  /** The `X-Webhook-Timestamp` header (Unix seconds), as a number. */
  timestamp: number | undefined;
  /**
   * `X-Webhook-Signature` is `t=<X-Webhook-Timestamp>,v1=<HMAC-SHA256 of "<t>.<raw>" under the
   * receiver's secret>`.
   */
  timestampedSignatureValid: boolean;
  /** Every request header as received (to replay a captured delivery). */
  headers: Record<string, string>;
}

/** One delivery attempt, accepted or not. */
export interface WebhookAttempt {
  /** The event's `id` (from the body). */
  id: string;
  /** The `X-Webhook-Id` header. */
  webhookId: string | undefined;
  /** What the receiver answered. */
  status: number;
}

export interface WebhookReceiverOptions {
  /** The secret the worker signs with (random by default; see {@link WebhookReceiver.workerEnv}). */
  secret?: string;
  /**
   * The status of each answer (200); a delivery answered 300 or more is not recorded in `received`.
   * A promise holds the answer back (a slow receiver); the attempt is recorded once it settles.
   */
  answer?: (event: WebhookEvent) => number | Promise<number>;
  /** Called with each delivery it records. */
  onEvent?: (received: ReceivedWebhook) => void;
}

/** A local HTTP server standing in for the application's webhook endpoint. */
export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/hook` */
  url: string;
  secret: string;
  /** The deliveries accepted so far, in order. */
  received: ReceivedWebhook[];
  /** Every attempt, refused ones included, in order. */
  attempts: WebhookAttempt[];
  /** `WHATSAPP_WEBHOOK_URL` and `WHATSAPP_WEBHOOK_SECRET` for a worker that should deliver here. */
  workerEnv(): Record<string, string>;
  close(): Promise<void>;
}

export function expectedSignature(secret: string, raw: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(raw).digest('hex');
}

export function expectedTimestampedSignature(secret: string, seconds: number, raw: string): string {
  return `t=${seconds},v1=` + createHmac('sha256', secret).update(`${seconds}.${raw}`).digest('hex');
}

export async function startWebhookReceiver(options: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
  const secret = options.secret ?? randomBytes(16).toString('hex');
  const answer = options.answer ?? (() => 200);
  const received: ReceivedWebhook[] = [];
  const attempts: WebhookAttempt[] = [];
  const server = await startLocalServer(async (request, response) => {
    const raw = await readBody(request);
    let event: WebhookEvent;
    try {
      event = JSON.parse(raw) as WebhookEvent;
    } catch {
      return void response.writeHead(400).end();
    }
    const status = await answer(event);
    const headers = request.headers as Record<string, string>;
    const webhookId = headers['x-webhook-id'];
    attempts.push({ id: event.id, webhookId, status });
    if (status < 300) {
      const signature = headers['x-signature'];
      const timestamp = /^\d+$/.test(headers['x-webhook-timestamp'] ?? '') ? Number(headers['x-webhook-timestamp']) : undefined;
      const delivery: ReceivedWebhook = {
        raw,
        event,
        signature,
        signatureValid: signature === expectedSignature(secret, raw),
        webhookId,
        timestamp,
        timestampedSignatureValid: timestamp !== undefined && headers['x-webhook-signature'] === expectedTimestampedSignature(secret, timestamp, raw),
        headers: { ...headers },
      };
      received.push(delivery);
      options.onEvent?.(delivery);
    }
    response.writeHead(status).end();
  });
  const url = `${server.url}/hook`;
  return {
    url,
    secret,
    received,
    attempts,
    workerEnv: () => ({ WHATSAPP_WEBHOOK_URL: url, WHATSAPP_WEBHOOK_SECRET: secret }),
    close: server.close,
  };
}
