import { waitFor } from './wait';
import { expectedSignature, expectedTimestampedSignature, startWebhookReceiver } from './webhook-receiver';

const event = { event: 'session.status', session_id: 's1', workspace_id: '1', timestamp: '2026-01-01T00:00:00.000Z', payload: { status: 'connected' } };

async function deliver(url: string, raw: string, signature?: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature ? { 'x-signature': signature } : {}), ...headers },
    body: raw,
  });
  return response.status;
}

describe('startWebhookReceiver', () => {
  it('records each delivery with its raw body and whether its signature is valid', async () => {
    const seen: string[] = [];
    const receiver = await startWebhookReceiver({ secret: 'receiver-secret-16', onEvent: (r) => seen.push(r.event.event) });
    try {
      const raw = JSON.stringify(event);
      expect(await deliver(receiver.url, raw, expectedSignature('receiver-secret-16', raw))).toBe(200);
      expect(await deliver(receiver.url, raw, 'sha256=forged')).toBe(200);
      expect(receiver.received.map(({ raw: body, signatureValid }) => ({ body, signatureValid }))).toEqual([
        { body: raw, signatureValid: true },
        { body: raw, signatureValid: false },
      ]);
      expect(receiver.received[0]!.event).toEqual(event);
      expect(seen).toEqual(['session.status', 'session.status']);
      expect(receiver.workerEnv()).toEqual({ WHATSAPP_WEBHOOK_URL: receiver.url, WHATSAPP_WEBHOOK_SECRET: 'receiver-secret-16' });
      expect(receiver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/hook$/);
    } finally {
      await receiver.close();
    }
  });

  it('checks X-Webhook-Signature against X-Webhook-Timestamp and the raw body', async () => {
    const secret = 'receiver-secret-16';
    const receiver = await startWebhookReceiver({ secret });
    try {
      const raw = JSON.stringify(event);
      const signed = (t: string, signedT: number) => ({ 'x-webhook-timestamp': t, 'x-webhook-signature': expectedTimestampedSignature(secret, signedT, raw) });
      await deliver(receiver.url, raw, undefined, signed('1700000000', 1700000000));
      await deliver(receiver.url, raw, undefined, signed('1700000001', 1700000000)); // the time changed after signing
      await deliver(receiver.url, raw);
      expect(receiver.received.map(({ timestamp, timestampedSignatureValid }) => ({ timestamp, timestampedSignatureValid }))).toEqual([
        { timestamp: 1700000000, timestampedSignatureValid: true },
        { timestamp: 1700000001, timestampedSignatureValid: false },
        { timestamp: undefined, timestampedSignatureValid: false },
      ]);
      expect(receiver.received[0]!.headers['x-webhook-timestamp']).toBe('1700000000');
    } finally {
      await receiver.close();
    }
  });

  it('holds its answer while `answer` is a pending promise', async () => {
    let release!: (status: number) => void;
    const receiver = await startWebhookReceiver({ answer: () => new Promise<number>((resolve) => (release = resolve)) });
    try {
      const answered = deliver(receiver.url, JSON.stringify(event));
      await waitFor(() => release !== undefined, 'the delivery to reach the receiver');
      expect(receiver.attempts).toEqual([]);
      release(202);
      expect(await answered).toBe(202);
      expect(receiver.received).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it('does not record a delivery it answers with an error, nor a body that is not JSON', async () => {
    let calls = 0;
    const receiver = await startWebhookReceiver({ answer: () => (++calls === 1 ? 503 : 204) });
    try {
      expect(await deliver(receiver.url, JSON.stringify(event))).toBe(503);
      expect(await deliver(receiver.url, 'not json')).toBe(400);
      expect(await deliver(receiver.url, JSON.stringify(event))).toBe(204);
      expect(receiver.received).toHaveLength(1);
      expect(receiver.secret).toMatch(/^[0-9a-f]{32}$/);
    } finally {
      await receiver.close();
    }
  });
});
