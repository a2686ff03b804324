import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import type { WebhookEvent } from '@wa-session-sync/shared';
import { sign, WebhookDispatcher } from '../src/events/webhook';
import { silentLogger } from '../src/log';
import { startReceiver, waitFor } from './helpers';

describe('webhook delivery', () => {
  const event = (n: number): WebhookEvent => ({
    event: 'message',
    session_id: 's1',
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
      // one in flight, three queued: six dropped
      expect(dispatcher.stats.dropped).toBe(6);
      await dispatcher.idle();
      expect(dispatcher.stats.failed).toBe(4);
    } finally {
      await dispatcher.close();
    }
  });
});
