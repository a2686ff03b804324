import { createHmac } from 'node:crypto';
import { processesMentioning, startInProcessWorker, startReceiver, waitFor, type InProcessWorker, type Receiver } from './helpers';

jest.setTimeout(90_000);

describe('a session driven through real whatsapp-web.js in Chromium against the simulator', () => {
  let worker: InProcessWorker;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver();
    worker = await startInProcessWorker({ webhookUrl: receiver.url, prefix: 'life' });
  });

  afterAll(async () => {
    await worker?.close();
    await receiver?.close();
    expect(processesMentioning(worker.sessionsDir)).toEqual([]);
  });

  const phone = '6281234567890';

  it('shows a QR, connects once the phone scans it, and forwards signed events', async () => {
    const created = await worker.api('POST', '/api/sessions', { session_id: 'life1', workspace_id: 'ws1' });
    expect(created.status).toBe(201);

    const qr = await waitFor(async () => {
      const s = await worker.api('GET', '/api/sessions/life1');
      return s.json.status === 'qr_scanning' && s.json.qr;
    }, 'a QR');
    const qrAnswer = await worker.api('GET', '/api/sessions/life1/qr');
    expect(qrAnswer.json).toEqual({ qr });

    worker.sim.scan(qr, phone);
    await waitFor(() => worker.status('life1') === 'connected', 'connected');
    const session = (await worker.api('GET', '/api/sessions/life1')).json;
    expect(session).toMatchObject({ status: 'connected', phone_number: phone, workspace_id: 'ws1', qr: null });

    const messageId = worker.sim.sendMessage(phone, '628999', 'halo');
    const delivered = await waitFor(
      () => receiver.received.find((r) => r.event.event === 'message'),
      'the message webhook',
    );
    expect(delivered.event).toMatchObject({
      session_id: 'life1',
      workspace_id: 'ws1',
      payload: { body: 'halo', from: '628999@c.us', to: `${phone}@c.us` },
    });
    expect(delivered.event.payload).toHaveProperty('id');
    expect(String((delivered.event.payload as { id: string }).id)).toContain(messageId);
    const expected = 'sha256=' + createHmac('sha256', 'hook-secret').update(delivered.raw).digest('hex');
    expect(delivered.signature).toBe(expected);

    const statuses = receiver.received
      .filter((r) => r.event.event === 'session.status')
      .map((r) => (r.event.payload as { status: string }).status);
    expect(statuses).toEqual(expect.arrayContaining(['initializing', 'qr_scanning', 'authenticated', 'connected']));
    expect(receiver.received.some((r) => r.event.event === 'session.qr')).toBe(true);
  });

  it('reconnects by itself after a CONFLICT and is connected again without a QR', async () => {
    worker.sim.setState(phone, 'CONFLICT');
    await waitFor(() => worker.status('life1') === 'reconnecting', 'reconnecting');
    await waitFor(() => worker.status('life1') === 'connected', 'connected again');
    expect((await worker.api('GET', '/api/sessions/life1')).json.reason).toBeNull();
  });

  it('finds a wedged page with the live probe and heals it', async () => {
    worker.sim.hang(phone);
    await worker.sim.waitForPage({ phone, hung: true });
    await worker.manager.probeAll();
    expect(worker.status('life1')).not.toBe('connected');
    await waitFor(() => worker.status('life1') === 'connected', 'connected after the hang', 30_000);
    const pages = worker.sim.pages().filter((p) => p.phone === phone);
    expect(pages.every((p) => !p.hung)).toBe(true);
  });

  it('goes to qr_scanning with a fresh QR when the phone logs out, without reconnecting', async () => {
    worker.sim.logout(phone);
    await waitFor(async () => {
      const s = (await worker.api('GET', '/api/sessions/life1')).json;
      return s.status === 'qr_scanning' && s.qr;
    }, 'a fresh QR');
    const s = (await worker.api('GET', '/api/sessions/life1')).json;
    expect(s).toMatchObject({ reason: 'LOGOUT', phone_number: null, reconnect_attempts: 0 });
  });
});
