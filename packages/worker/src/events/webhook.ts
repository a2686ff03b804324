import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { WebhookEvent } from '@wa-session-sync/shared';
import { SIGNATURE_HEADER } from '@wa-session-sync/shared';
import type { Logger } from '../log';
import { backoffDelay } from '../util';

/** Where session code hands events; never blocks and never throws. */
export interface EventSink {
  publish(event: WebhookEvent): void;
}

export const nullSink: EventSink = { publish() {} };

export function sign(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface WebhookOptions {
  url: string;
  secret: string;
  logger: Logger;
  /** Events kept waiting at most; the oldest is dropped (with a warning) beyond. */
  maxQueue?: number;
  /** Deliveries in flight at once. */
  concurrency?: number;
  /** Attempts per event, first one included. */
  maxAttempts?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
}

/**
 * One POST with node's own client (keep-alive agents by default): resolves to the status code once
 * the answer is read; rejects on a network error or when the receiver stays silent `timeoutMs`.
 * Not undici: loading it cost ~45 ms of the worker's start, before it can listen.
 */
function post(url: URL, body: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const request = client.request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, timeout: timeoutMs },
      (response) => {
        response.on('error', reject);
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.resume();
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}

interface Pending {
  body: string;
  event: WebhookEvent['event'];
  sessionId: string;
  attempts: number;
}

/**
 * Delivers events to `WHATSAPP_WEBHOOK_URL` from a bounded in-memory queue: signed with
 * HMAC-SHA256 over the exact body, retried with backoff and jitter on errors and non-2xx.
 */
export class WebhookDispatcher implements EventSink {
  private readonly queue: Pending[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private inFlight = 0;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private readonly maxQueue: number;
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly timeoutMs: number;
  private readonly url: URL;
  /** Counters for /health and tests. */
  readonly stats = { delivered: 0, failed: 0, dropped: 0 };

  constructor(private readonly options: WebhookOptions) {
    this.maxQueue = options.maxQueue ?? 10_000;
    this.concurrency = options.concurrency ?? 4;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.url = new URL(options.url);
  }

  publish(event: WebhookEvent): void {
    if (this.closed) return;
    if (this.queue.length >= this.maxQueue) {
      const dropped = this.queue.shift()!;
      this.stats.dropped++;
      this.options.logger.warn('Webhook queue full, dropping oldest event', {
        event: dropped.event,
        sessionId: dropped.sessionId,
      });
    }
    this.queue.push({ body: JSON.stringify(event), event: event.event, sessionId: event.session_id, attempts: 0 });
    this.pump();
  }

  get pending(): number {
    return this.queue.length + this.inFlight + this.timers.size;
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.concurrency && this.queue.length > 0) {
      const item = this.queue.shift()!;
      this.inFlight++;
      void this.deliver(item).finally(() => {
        this.inFlight--;
        this.pump();
        this.notifyIdle();
      });
    }
  }

  private async deliver(item: Pending): Promise<void> {
    item.attempts++;
    let failure: string;
    try {
      const status = await post(
        this.url,
        item.body,
        { 'content-type': 'application/json', [SIGNATURE_HEADER]: sign(this.options.secret, item.body) },
        this.timeoutMs,
      );
      if (status >= 200 && status < 300) {
        this.stats.delivered++;
        return;
      }
      failure = `HTTP ${status}`;
    } catch (error) {
      failure = (error as Error).message;
    }
    if (item.attempts >= this.maxAttempts || this.closed) {
      this.stats.failed++;
      this.options.logger.warn('Webhook delivery failed', {
        event: item.event,
        sessionId: item.sessionId,
        attempts: item.attempts,
        error: failure,
      });
      return;
    }
    const delay = backoffDelay({ baseDelayMs: this.retryBaseMs, maxDelayMs: this.retryMaxMs }, item.attempts);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) return this.notifyIdle();
      this.queue.unshift(item);
      this.pump();
    }, delay);
    timer.unref();
    this.timers.add(timer);
  }

  private notifyIdle(): void {
    if (this.pending === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Resolves when nothing is queued, in flight or waiting to retry (tests). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops delivering; waits up to `graceMs` for deliveries already in flight. */
  async close(graceMs = 2000): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
    if (this.inFlight === 0) return;
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, graceMs).unref())]);
  }
}
