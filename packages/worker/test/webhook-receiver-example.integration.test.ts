import path from 'node:path';
import fs from 'node:fs/promises';
import { expectedTimestampedSignature, spawnProcess, startWebhookReceiver, type ReceivedWebhook, type RunningProcess } from '@wa-session-sync/test-support';
import { processesMentioning, spawnWorker, tempDir, waitFor, type WorkerProcess } from './helpers';

// The README's receiver (examples/webhook-receiver.js) as a process, fed deliveries the built
// worker really made: it takes a fresh one, and refuses it replayed, forged, or signed too long ago.
jest.setTimeout(60_000);

const EXAMPLE = path.resolve(__dirname, '..', 'examples', 'webhook-receiver.js');

describe('the example webhook receiver', () => {
  const secret = 'example-receiver-secret-0123';
  let dir: string;
  let example: RunningProcess;
  let exampleUrl: string;
  let worker: WorkerProcess | undefined;
  let captured: ReceivedWebhook;

  beforeAll(async () => {
    dir = await tempDir('example');
    example = spawnProcess(process.execPath, [EXAMPLE], { env: { PATH: process.env.PATH, WEBHOOK_SECRET: secret, PORT: '0' } });
    exampleUrl = `http://127.0.0.1:${(await example.outputMatching(/listening on (\d+)/, 10_000))[1]}/`;
    // The worker delivers to a recording receiver: the test then replays what it captured.
    const recorder = await startWebhookReceiver({ secret });
    try {
      worker = await spawnWorker({
        ...recorder.workerEnv(),
        WHATSAPP_SESSIONS_DIR: path.join(dir, 'sessions'),
        LOG_DIR: path.join(dir, 'logs'),
        WHATSAPP_RESTORE_ON_START: 'false',
      });
      expect((await worker.api('POST', '/api/sessions', { session_id: 'ex1', workspace_id: 'w1' })).status).toBe(201);
      captured = await waitFor(() => recorder.received.find((r) => r.event.event === 'session.status'), 'a status delivered by the worker');
    } finally {
      await recorder.close();
    }
  });

  afterAll(async () => {
    // SIGTERM: the worker closes the session's Chromium as it exits.
    await worker?.kill('SIGTERM');
    await example?.kill('SIGKILL');
    await waitFor(() => processesMentioning(dir).length === 0, 'no process left on the test folder', 10_000).catch(() => undefined);
    const left = processesMentioning(dir);
    for (const pid of left) process.kill(pid, 'SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
    expect(left).toEqual([]);
  });

  const send = async (raw: string, headers: Record<string, string>) => {
    const response = await fetch(exampleUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: raw });
    return { status: response.status, text: await response.text() };
  };
  const signedHeaders = (delivery: ReceivedWebhook) => ({
    'x-webhook-timestamp': delivery.headers['x-webhook-timestamp']!,
    'x-webhook-signature': delivery.headers['x-webhook-signature']!,
  });
  const handled = () => example.stdout().split('\n').filter((line) => line.startsWith('handled '));

  it("handles the worker's delivery once, and answers a replay of it without handling it again", async () => {
    expect(captured.timestampedSignatureValid).toBe(true);
    expect(await send(captured.raw, signedHeaders(captured))).toEqual({ status: 200, text: 'ok' });
    expect(await send(captured.raw, signedHeaders(captured))).toEqual({ status: 200, text: 'duplicate' });
    expect(handled()).toEqual([`handled ${captured.event.id} session.status`]);
  });

  it('refuses a delivery signed more than five minutes ago, one whose time or body changed, and one without the timestamped signature', async () => {
    const fresh = { ...captured.event, id: 'never-seen-before' };
    const raw = JSON.stringify(fresh);
    const at = (seconds: number) => ({ 'x-webhook-timestamp': String(seconds), 'x-webhook-signature': expectedTimestampedSignature(secret, seconds, raw) });
    const now = Math.floor(Date.now() / 1000);
    expect(await send(raw, at(now - 301))).toEqual({ status: 401, text: 'too old' });
    expect(await send(raw, { ...at(now), 'x-webhook-timestamp': String(now + 1) })).toEqual({ status: 401, text: 'unsigned' });
    expect(await send(raw.replace('never-seen', 'altered'), at(now))).toEqual({ status: 401, text: 'bad signature' });
    expect(await send(raw, { 'x-signature': captured.signature! })).toEqual({ status: 401, text: 'unsigned' });
    expect(await send(raw, at(now))).toEqual({ status: 200, text: 'ok' });
    expect(handled()).toEqual([`handled ${captured.event.id} session.status`, 'handled never-seen-before session.status']);
  });
});
