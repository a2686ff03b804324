import { randomUUID } from 'node:crypto';
import type { WebhookEvent } from '@wa-session-sync/shared';
import type { Listener, WorkerEvent } from './bus';
import type { EventSink } from './webhook';

/**
 * The contract's webhook event for a bus event, or null for those the contract does not send
 * (launch, loss, probe, worker). Each gets a fresh `id`, the same on every retry of its delivery.
 */
export function toWebhookEvent(event: WorkerEvent): WebhookEvent | null {
  if (event.type === 'worker') return null;
  const envelope = { id: randomUUID(), session_id: event.session_id, workspace_id: event.workspace_id, timestamp: event.at.toISOString() };
  switch (event.type) {
    case 'status':
      return { ...envelope, event: 'session.status', payload: { status: event.to, previous: event.from, reason: event.reason } };
    case 'qr':
      return { ...envelope, event: 'session.qr', payload: { qr: event.qr } };
    case 'message':
      return { ...envelope, event: 'message', payload: event.message };
    case 'alert':
      return { ...envelope, event: 'session.alert', payload: { kind: event.kind, reason: event.reason, attempts: event.attempts } };
    default:
      return null;
  }
}

/** A bus listener handing the contract's webhook events to `sink` (the webhook dispatcher). */
export function webhookListener(sink: EventSink): Listener {
  return (event) => {
    const webhook = toWebhookEvent(event);
    if (webhook) sink.publish(webhook);
  };
}
