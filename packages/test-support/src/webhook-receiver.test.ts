import { expectedSignature, startWebhookReceiver } from './webhook-receiver';

const event = { event: 'session.status', session_id: 's1', workspace_id: '1', timestamp: '2026-01-01T00:00:00.000Z', payload: { status: 'connected' } };

async function deliver(url: string, raw: string, signature?: string): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature ? { 'x-signature': signature } : {}) },
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
