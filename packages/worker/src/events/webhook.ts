import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { WebhookEvent, WebhookEventName } from '@wa-session-sync/shared';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, TIMESTAMPED_SIGNATURE_HEADER, WEBHOOK_ID_HEADER } from '@wa-session-sync/shared';
import type { Logger } from '../log';
import { backoffDelay } from '../util';

/** Where the contract's webhook events are handed (the dispatcher, `webhookListener`); never blocks and never throws. */
export interface EventSink {
  publish(event: WebhookEvent): void;
}

/** `X-Signature`: the body alone, no time (kept for existing receivers). */
export function sign(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** `X-Webhook-Signature`: the send time (Unix seconds) and the body, so that a replay is seen as old. */
export function signTimestamped(secret: string, seconds: number, body: string): string {
  return `t=${seconds},v1=${createHmac('sha256', secret).update(`${seconds}.${body}`).digest('hex')}`;
}

/** The backlog's default bound in bytes (WHATSAPP_WEBHOOK_MAX_QUEUE_MB). */
export const DEFAULT_MAX_QUEUE_BYTES = 32 * 1024 * 1024;

/**
 * Which events a full backlog gives up first, lowest first; an event not named here is kept the
 * longest. `session.qr` goes first: WhatsApp replaces a QR about every 20 s, so one that waited in
 * a backlog long enough to fill it is stale, `GET /api/sessions/:id/qr` always has the live one,
 * and it holds the pairing secret. A `message` exists nowhere else once dropped, but a status is
 * what the application's view of the session rests on (and it is small), so messages go next.
 */
const DROP_RANK: Partial<Record<WebhookEventName, number>> = { 'session.qr': 0, message: 1 };
// `session.alert` is not named: like a status, it is what a person acts on, and it is small.
const KEPT_LONGEST = 2;

export interface WebhookOptions {
  url: string;
  secret: string;
  logger: Logger;
  /**
   * Events held at most: waiting, in flight and waiting for a retry alike (10,000). Beyond it, or
   * beyond `maxQueueBytes`, events not in flight are dropped: `session.qr` first, then `message`,
   * then the rest, oldest first within each.
   */
  maxQueue?: number;
  /** Bytes of held bodies at most, counted in UTF-8 (never less than their size in memory): 32 MiB. */
  maxQueueBytes?: number;
  /** Deliveries in flight at once (each to a different session: one session's events go in order). */
  concurrency?: number;
  /** Attempts per event, first one included. */
  maxAttempts?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Total deadline of one attempt, from connecting to the end of the answer. */
  timeoutMs?: number;
  /** How often dropped events are reported (one log line per interval, not one per event). */
  dropReportMs?: number;
  /** The clock the signatures' timestamps are read from (ms since the epoch). */
  now?: () => number;
  /** Told every attempt's outcome (`retried`: failed, another attempt follows) and every drop: the metrics. */
  onOutcome?: (event: WebhookEventName, outcome: 'delivered' | 'retried' | 'failed' | 'dropped') => void;
}

/**
 * One POST with node's own client (keep-alive agents by default): resolves to the status code once
 * the answer is read; rejects on a network error or when the whole exchange takes over
 * `timeoutMs`, however the receiver trickles its bytes. Not undici: loading it cost ~45 ms of the
 * worker's start, before it can listen.
 */
function post(url: URL, body: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const request = client.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
      response.on('error', reject);
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.resume();
    });
    const deadline = setTimeout(() => request.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    request.on('close', () => clearTimeout(deadline));
    request.on('error', reject);
    request.end(body);
  });
}

interface Item {
  id: string;
  body: string;
  /** The body's UTF-8 size: what the byte bound counts. */
  bytes: number;
  event: WebhookEventName;
  sessionId: string;
  attempts: number;
  sending: boolean;
}

/** One session's events, delivered one after another in the order they happened. */
interface Lane {
  items: Item[];
  /** Its head is being sent or waits for its retry. */
  busy: boolean;
  retry: NodeJS.Timeout | null;
}

/**
 * Delivers events to `WHATSAPP_WEBHOOK_URL` from a bounded in-memory queue: signed with
 * HMAC-SHA256 over the exact body, which carries the event's `id` (also sent as `X-Webhook-Id`,
 * the same on every retry, so a receiver can tell a retry from a new event), retried with backoff
 * and jitter on errors and non-2xx. One session's events go one at a time, in order: a retry
 * holds back that session's later events, never another session's.
 */
export class WebhookDispatcher implements EventSink {
  private readonly lanes = new Map<string, Lane>();
  /** Every event held, oldest first (what the bounds count). */
  private readonly held = new Set<Item>();
  /** The same events by drop rank ({@link DROP_RANK}), oldest first in each. */
  private readonly heldByRank: Array<Set<Item>> = Array.from({ length: KEPT_LONGEST + 1 }, () => new Set());
  private heldBytes = 0;
  private inFlight = 0;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private droppedSinceReport: Partial<Record<WebhookEventName, number>> = {};
  private dropReport: NodeJS.Timeout | null = null;
  private readonly maxQueue: number;
  private readonly maxQueueBytes: number;
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly timeoutMs: number;
  private readonly url: URL;
  /** Counters for tests (and, later, metrics). */
  readonly stats = { delivered: 0, failed: 0, dropped: 0 };

  constructor(private readonly options: WebhookOptions) {
    this.maxQueue = options.maxQueue ?? 10_000;
    this.maxQueueBytes = options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.concurrency = options.concurrency ?? 4;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.url = new URL(options.url);
  }

  publish(event: WebhookEvent): void {
    if (this.closed) return;
    const body = JSON.stringify(event);
    const item: Item = { id: event.id, body, bytes: Buffer.byteLength(body), event: event.event, sessionId: event.session_id, attempts: 0, sending: false };
    this.held.add(item);
    this.heldByRank[rankOf(item)]!.add(item);
    this.heldBytes += item.bytes;
    let lane = this.lanes.get(item.sessionId);
    if (!lane) {
      lane = { items: [], busy: false, retry: null };
      this.lanes.set(item.sessionId, lane);
    }
    lane.items.push(item);
    // The new event is a candidate too: a message arriving at a backlog of statuses is the one dropped.
    while (this.held.size > this.maxQueue || this.heldBytes > this.maxQueueBytes) if (!this.dropOne()) break;
    this.pump();
  }

  /** Events held: waiting, in flight or waiting for a retry. */
  get pending(): number {
    return this.held.size;
  }

  /** Bytes of the events held. */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  /** Drops the lowest-ranked, oldest event not in flight; false when every event held is in flight. */
  private dropOne(): boolean {
    for (const rank of this.heldByRank) {
      for (const item of rank) {
        if (item.sending) continue;
        const lane = this.lanes.get(item.sessionId)!;
        const index = lane.items.indexOf(item);
        lane.items.splice(index, 1);
        // The head waiting for its retry: the next one goes in its place.
        if (index === 0 && lane.retry) {
          clearTimeout(lane.retry);
          lane.retry = null;
          lane.busy = false;
        }
        this.forget(item);
        this.stats.dropped++;
        this.options.onOutcome?.(item.event, 'dropped');
        this.droppedSinceReport[item.event] = (this.droppedSinceReport[item.event] ?? 0) + 1;
        this.scheduleDropReport();
        return true;
      }
    }
    return false;
  }

  /** One log line at the first drop, then at most one per interval with what was dropped meanwhile. */
  private scheduleDropReport(): void {
    if (this.dropReport) return;
    const byEvent = this.droppedSinceReport;
    const dropped = Object.values(byEvent).reduce((sum, n) => sum + n, 0);
    this.options.logger.warn('Webhook backlog full, dropping events', {
      dropped,
      byEvent,
      maxQueue: this.maxQueue,
      maxQueueBytes: this.maxQueueBytes,
    });
    this.droppedSinceReport = {};
    this.dropReport = setTimeout(() => {
      this.dropReport = null;
      if (Object.keys(this.droppedSinceReport).length > 0) this.scheduleDropReport();
    }, this.options.dropReportMs ?? 10_000);
    this.dropReport.unref();
  }

  private forget(item: Item): void {
    if (!this.held.delete(item)) return;
    this.heldByRank[rankOf(item)]!.delete(item);
    this.heldBytes -= item.bytes;
    const lane = this.lanes.get(item.sessionId);
    if (lane && lane.items.length === 0 && !lane.busy) this.lanes.delete(item.sessionId);
    this.notifyIdle();
  }

  private pump(): void {
    if (this.closed) return;
    for (const lane of this.lanes.values()) {
      if (this.inFlight >= this.concurrency) return;
      if (lane.busy || lane.items.length === 0) continue;
      const item = lane.items[0]!;
      lane.busy = true;
      item.sending = true;
      this.inFlight++;
      void this.deliver(item).then((retryIn) => {
        this.inFlight--;
        item.sending = false;
        if (retryIn === null) {
          lane.items.shift();
          lane.busy = false;
          this.forget(item);
        } else if (this.closed) {
          lane.busy = false;
          this.forget(item);
        } else {
          lane.retry = setTimeout(() => {
            lane.retry = null;
            lane.busy = false;
            this.pump();
          }, retryIn);
          lane.retry.unref();
        }
        this.pump();
      });
    }
  }

  /** One attempt; resolves to the delay before the next one, or null when the event is done with. */
  private async deliver(item: Item): Promise<number | null> {
    item.attempts++;
    let failure: string;
    // Each attempt carries its own send time: a retry is signed anew, so a receiver's window holds.
    const seconds = Math.floor((this.options.now?.() ?? Date.now()) / 1000);
    try {
      const status = await post(
        this.url,
        item.body,
        {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: sign(this.options.secret, item.body),
          [TIMESTAMP_HEADER]: String(seconds),
          [TIMESTAMPED_SIGNATURE_HEADER]: signTimestamped(this.options.secret, seconds, item.body),
          [WEBHOOK_ID_HEADER]: item.id,
        },
        this.timeoutMs,
      );
      if (status >= 200 && status < 300) {
        this.stats.delivered++;
        this.options.onOutcome?.(item.event, 'delivered');
        return null;
      }
      failure = `HTTP ${status}`;
    } catch (error) {
      failure = (error as Error).message;
    }
    if (item.attempts >= this.maxAttempts || this.closed) {
      this.stats.failed++;
      this.options.onOutcome?.(item.event, 'failed');
      this.options.logger.warn('Webhook delivery failed', { id: item.id, event: item.event, sessionId: item.sessionId, attempts: item.attempts, error: failure });
      return null;
    }
    this.options.onOutcome?.(item.event, 'retried');
    return backoffDelay({ baseDelayMs: this.retryBaseMs, maxDelayMs: this.retryMaxMs }, item.attempts);
  }

  private notifyIdle(): void {
    if (this.held.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Resolves when nothing is queued, in flight or waiting to retry (tests). */
  idle(): Promise<void> {
    if (this.held.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops delivering; waits up to `graceMs` for deliveries already in flight. */
  async close(graceMs = 2000): Promise<void> {
    this.closed = true;
    if (this.dropReport) clearTimeout(this.dropReport);
    for (const lane of this.lanes.values()) if (lane.retry) clearTimeout(lane.retry);
    for (const item of [...this.held]) if (!item.sending) this.forget(item);
    this.lanes.clear();
    // Only deliveries in flight are held now; each is let go when its attempt ends.
    this.notifyIdle();
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, graceMs).unref())]);
  }
}

function rankOf(item: Item): number {
  return DROP_RANK[item.event] ?? KEPT_LONGEST;
}
