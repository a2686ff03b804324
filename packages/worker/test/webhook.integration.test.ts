import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import type { WebhookEvent } from '@wa-session-sync/shared';
import { expectedTimestampedSignature } from '@wa-session-sync/test-support';
import { sign, signTimestamped, WebhookDispatcher } from '../src/events/webhook';
import { silentLogger } from '../src/log';
import { startReceiver, waitFor } from './helpers';

describe('webhook delivery', () => {
  const event = (n: number, sessionId = 's1'): WebhookEvent => ({
    id: `event-${sessionId}-${n}`,
    event: 'message',
    session_id: sessionId,
    workspace_id: 'w1',
    timestamp: new Date(0).toISOString(),
    payload: { id: `m${n}`, from: '1@c.us', to: '2@c.us', body: `b${n}`, type: 'chat', timestamp: n },
  });

  it('signs the exact body with HMAC-SHA256', () => {
    const expected = createHmac('sha256', 'sec').update('{"a":1}').digest('hex');
    expect(sign('sec', '{"a":1}')).toBe(`sha256=${expected}`);
  });

  it('delivers signed events and retries a failing receiver with backoff until it answers 2xx', async () => {
    let calls = 0;
    const receiver = await startReceiver(() => (++calls <= 2 ? 503 : 200));
    const dispatcher = new WebhookDispatcher({ url: receiver.url, secret: 'sec', logger: silentLogger(), retryBaseMs: 10, retryMaxMs: 20 });
    try {
      dispatcher.publish(event(1));
      await dispatcher.idle();
      expect(calls).toBe(3);
      expect(receiver.received).toHaveLength(1);
      const [got] = receiver.received;
      expect(got!.event).toEqual(event(1));
      expect(got!.signature).toBe(sign('sec', got!.raw));
      expect(dispatcher.stats).toMatchObject({ delivered: 1, failed: 0 });
    } finally {
      await dispatcher.close();
      await receiver.close();
    }
  });

  it('gives up after its attempts, and a dead receiver never blocks publishing', async () => {
    const receiver = await startReceiver(() => 500);
    const dispatcher = new WebhookDispatcher({ url: receiver.url, secret: 's', logger: silentLogger(), retryBaseMs: 1, retryMaxMs: 2, maxAttempts: 2 });
    try {
      for (let i = 0; i < 20; i++) dispatcher.publish(event(i));
      // publish() only enqueues: it returned before any delivery could be made
      expect(dispatcher.stats.delivered + dispatcher.stats.failed).toBe(0);
      await dispatcher.idle();
      expect(dispatcher.stats).toMatchObject({ delivered: 0, failed: 20 });
    } finally {
      await dispatcher.close();
      await receiver.close();
    }
  });

  it('gives up on a receiver that never answers after its timeout, and logs why', async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const { port } = silent.address() as AddressInfo;
    const warnings: unknown[] = [];
    const logger = silentLogger();
    logger.warn = ((message: string, meta: unknown) => warnings.push({ message, meta })) as never;
    const dispatcher = new WebhookDispatcher({ url: `http://127.0.0.1:${port}/hook`, secret: 's', logger, maxAttempts: 1, timeoutMs: 200 });
    try {
      dispatcher.publish(event(1));
      await dispatcher.idle();
      expect(dispatcher.stats).toMatchObject({ delivered: 0, failed: 1 });
      expect(warnings).toEqual([
        { message: 'Webhook delivery failed', meta: expect.objectContaining({ attempts: 1, error: 'no answer within 200 ms' }) },
      ]);
    } finally {
      await dispatcher.close();
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });

  it('keeps a bounded queue, dropping the oldest events', async () => {
    const dispatcher = new WebhookDispatcher({ url: 'http://127.0.0.1:9/none', secret: 's', logger: silentLogger(), maxQueue: 3, concurrency: 1, maxAttempts: 1 });
    try {
      for (let i = 0; i < 10; i++) dispatcher.publish(event(i));
      // three held, the one in flight among them: seven dropped
      expect(dispatcher.stats.dropped).toBe(7);
      await dispatcher.idle();
      expect(dispatcher.stats.failed).toBe(3);
    } finally {
      await dispatcher.close();
    }
  });

  it('sends the same id on every retry, in the body and in X-Webhook-Id, covered by the signature', async () => {
    const refusedOnce = new Set<string>();
    const receiver = await startReceiver((e) => (refusedOnce.has(e.id) ? 200 : (refusedOnce.add(e.id), 503)));
    const dispatcher = new WebhookDispatcher({ url: receiver.url, secret: receiver.secret, logger: silentLogger(), retryBaseMs: 5, retryMaxMs: 10 });
    try {
      dispatcher.publish(event(1));
      dispatcher.publish(event(2));
      await dispatcher.idle();
      expect(receiver.attempts).toEqual([
        { id: 'event-s1-1', webhookId: 'event-s1-1', status: 503 },
        { id: 'event-s1-1', webhookId: 'event-s1-1', status: 200 },
        { id: 'event-s1-2', webhookId: 'event-s1-2', status: 503 },
        { id: 'event-s1-2', webhookId: 'event-s1-2', status: 200 },
      ]);
      expect(receiver.received.every((r) => r.signatureValid && r.webhookId === r.event.id)).toBe(true);
    } finally {
      await dispatcher.close();
      await receiver.close();
    }
  });

  it("delivers one session's events in order while another session's go on past its retries", async () => {
    const receiver = await startReceiver((e) => (e.session_id === 'slow' && !receiver.attempts.some((a) => a.id === e.id && a.status === 503) ? 503 : 200));
    const dispatcher = new WebhookDispatcher({ url: receiver.url, secret: 's', logger: silentLogger(), retryBaseMs: 40, retryMaxMs: 40 });
    try {
      for (let i = 1; i <= 3; i++) {
        dispatcher.publish(event(i, 'slow'));
        dispatcher.publish(event(i, 'fast'));
      }
      await dispatcher.idle();
      const order = (sessionId: string) => receiver.received.filter((r) => r.event.session_id === sessionId).map((r) => r.event.id);
      expect(order('slow')).toEqual(['event-slow-1', 'event-slow-2', 'event-slow-3']);
      expect(order('fast')).toEqual(['event-fast-1', 'event-fast-2', 'event-fast-3']);
      // The fast session did not wait for the slow one's retries.
      const at = (id: string) => receiver.received.findIndex((r) => r.event.id === id);
      expect(at('event-fast-3')).toBeLessThan(at('event-slow-1'));
    } finally {
      await dispatcher.close();
      await receiver.close();
    }
  });

  it('counts retries waiting and deliveries in flight against the bound, and reports drops once per interval', async () => {
    const warnings: Array<{ message: string; meta: Record<string, unknown> }> = [];
    const logger = silentLogger();
    logger.warn = ((message: string, meta: Record<string, unknown>) => warnings.push({ message, meta })) as never;
    const refusing = await startReceiver(() => 503);
    const dispatcher = new WebhookDispatcher({ url: refusing.url, secret: 's', logger, maxQueue: 10, retryBaseMs: 60_000, retryMaxMs: 60_000, dropReportMs: 60_000 });
    try {
      for (let i = 0; i < 200; i++) dispatcher.publish(event(i, `s${i % 20}`));
      await waitFor(() => refusing.attempts.length >= 4, 'first attempts');
      for (let i = 200; i < 400; i++) dispatcher.publish(event(i, `s${i % 20}`));
      expect(dispatcher.pending).toBeLessThanOrEqual(10);
      expect(dispatcher.stats.dropped).toBe(390);
      expect(warnings.filter((w) => w.message === 'Webhook backlog full, dropping events')).toEqual([
        { message: 'Webhook backlog full, dropping events', meta: { dropped: 1, byEvent: { message: 1 }, maxQueue: 10, maxQueueBytes: 32 * 1024 * 1024 } },
      ]);
    } finally {
      await dispatcher.close(100);
      await refusing.close();
    }
  });

  it('gives up an attempt at its total deadline though the receiver keeps sending bytes', async () => {
    const trickling = http.createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      const drip = setInterval(() => response.write('.'), 20);
      response.on('close', () => clearInterval(drip));
    });
    await new Promise<void>((r) => trickling.listen(0, '127.0.0.1', () => r()));
    const { port } = trickling.address() as AddressInfo;
    const dispatcher = new WebhookDispatcher({ url: `http://127.0.0.1:${port}/hook`, secret: 's', logger: silentLogger(), maxAttempts: 1, timeoutMs: 300 });
    try {
      const started = Date.now();
      dispatcher.publish(event(1));
      await dispatcher.idle();
      expect(dispatcher.stats).toMatchObject({ delivered: 0, failed: 1 });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await dispatcher.close();
      trickling.closeAllConnections();
      await new Promise((r) => trickling.close(r));
    }
  });

  describe('bounded in bytes', () => {
    const status = (n: number, sessionId = 's1'): WebhookEvent => ({
      id: `status-${sessionId}-${n}`,
      event: 'session.status',
      session_id: sessionId,
      workspace_id: 'w1',
      timestamp: new Date(0).toISOString(),
      payload: { status: 'connected', previous: 'authenticated', reason: null },
    });
    const qr = (n: number, sessionId = 's1'): WebhookEvent => ({ ...status(n, sessionId), id: `qr-${sessionId}-${n}`, event: 'session.qr', payload: { qr: `2@ref-${n}` } });
    const long = (n: number, sessionId = 's1'): WebhookEvent => {
      const e = event(n, sessionId);
      return { ...e, payload: { ...(e.payload as object), body: 'x'.repeat(1000) } } as WebhookEvent;
    };
    const size = (e: WebhookEvent) => Buffer.byteLength(JSON.stringify(e));

    it('holds no more bytes than its bound, dropping the QR first, then the oldest messages, and keeping every status', async () => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const receiver = await startReceiver(async () => (await released, 200));
      const bound = 3 * size(long(1)) + 2 * size(status(1));
      const dispatcher = new WebhookDispatcher({ url: receiver.url, secret: 's', logger: silentLogger(), maxQueueBytes: bound, concurrency: 1 });
      try {
        dispatcher.publish(long(0)); // in flight, held by the receiver: never dropped
        await waitFor(() => dispatcher.stats.delivered === 0 && dispatcher.pendingBytes > 0, 'the first delivery in flight');
        dispatcher.publish(qr(1));
        for (let i = 1; i <= 5; i++) dispatcher.publish(long(i));
        dispatcher.publish(status(1));
        dispatcher.publish(status(2));
        expect(dispatcher.pendingBytes).toBeLessThanOrEqual(bound);
        release();
        await dispatcher.idle();
        expect(receiver.received.map((r) => r.event.id)).toEqual(['event-s1-0', 'event-s1-4', 'event-s1-5', 'status-s1-1', 'status-s1-2']);
        expect(dispatcher.stats).toMatchObject({ delivered: 5, dropped: 4 });
      } finally {
        release();
        await dispatcher.close();
        await receiver.close();
      }
    });

    it('drops a new message rather than a status already held', async () => {
      const dispatcher = new WebhookDispatcher({ url: 'http://127.0.0.1:9/none', secret: 's', logger: silentLogger(), maxQueueBytes: 3 * size(status(1)) + 10, concurrency: 1, maxAttempts: 1 });
      try {
        for (let i = 1; i <= 3; i++) dispatcher.publish(status(i, `s${i}`));
        dispatcher.publish(long(1, 's4'));
        expect(dispatcher.stats.dropped).toBe(1);
        expect(dispatcher.pending).toBe(3);
      } finally {
        await dispatcher.close(100);
      }
    });

    it('reports its drops by event once per interval, not once per drop', async () => {
      const warnings: Array<{ message: string; meta: Record<string, unknown> }> = [];
      const logger = silentLogger();
      logger.warn = ((message: string, meta: Record<string, unknown>) => warnings.push({ message, meta })) as never;
      const dispatcher = new WebhookDispatcher({ url: 'http://127.0.0.1:9/none', secret: 's', logger, maxQueueBytes: 2 * size(long(1)), concurrency: 1, maxAttempts: 1, dropReportMs: 300 });
      try {
        dispatcher.publish(long(0, 's0')); // in flight: not a candidate
        dispatcher.publish(qr(0, 'q'));
        for (let i = 1; i <= 20; i++) dispatcher.publish(long(i, `s${i}`));
        const reports = () => warnings.filter((w) => w.message === 'Webhook backlog full, dropping events');
        await waitFor(() => reports().length === 2, 'the second report, one interval after the first');
        const [first, second] = reports();
        expect(first!.meta).toMatchObject({ dropped: 1, byEvent: { 'session.qr': 1 } });
        expect(second!.meta).toMatchObject({ byEvent: { message: dispatcher.stats.dropped - 1 } });
        expect(dispatcher.stats.dropped).toBeGreaterThan(10);
      } finally {
        await dispatcher.close(100);
      }
    });
  });

  it('signs every attempt with its own send time in X-Webhook-Timestamp and X-Webhook-Signature', async () => {
    let clock = 1_700_000_000_000;
    let calls = 0;
    const receiver = await startReceiver(() => (++calls === 1 ? 503 : 200));
    const dispatcher = new WebhookDispatcher({
      url: receiver.url,
      secret: receiver.secret,
      logger: silentLogger(),
      retryBaseMs: 5,
      retryMaxMs: 10,
      now: () => {
        const at = clock;
        clock += 61_000; // each attempt a minute after the one before
        return at;
      },
    });
    try {
      dispatcher.publish(event(1));
      await dispatcher.idle();
      const [got] = receiver.received;
      expect(got).toMatchObject({ timestamp: 1_700_000_061, signatureValid: true, timestampedSignatureValid: true });
      expect(got!.headers['x-webhook-signature']).toBe(expectedTimestampedSignature(receiver.secret, 1_700_000_061, got!.raw));
      expect(signTimestamped('sec', 12, '{"a":1}')).toBe(`t=12,v1=${createHmac('sha256', 'sec').update('12.{"a":1}').digest('hex')}`);
    } finally {
      await dispatcher.close();
      await receiver.close();
    }
  });
});
