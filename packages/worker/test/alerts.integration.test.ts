import fs from 'node:fs/promises';
import path from 'node:path';
import { REASONS } from '@wa-session-sync/shared';
import { browsersUnderTest, simulatedWorkerEnv, startSimulator, startWebhookReceiver, type Simulator, type WebhookReceiver } from '@wa-session-sync/test-support';
import { processesMentioning, spawnWorker, tempDir, waitFor, type WorkerProcess } from './helpers';

// `session.alert` on the real stack: the built worker, real whatsapp-web.js in Chromium against
// the simulator, a signing webhook receiver. Then the worker stops through its one shutdown path.
jest.setTimeout(120_000);

const [browser] = browsersUnderTest();

describe('session.alert from the built worker', () => {
  let sim: Simulator;
  let receiver: WebhookReceiver;
  let dir: string;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    sim = await startSimulator({ quiet: true });
    receiver = await startWebhookReceiver();
    dir = await tempDir('alerts');
  });

  afterAll(async () => {
    if (worker && worker.child.exitCode === null) await worker.kill('SIGKILL');
    await waitFor(() => processesMentioning(dir).length === 0, 'Chromium to exit', 10_000).catch(() => undefined);
    const left = processesMentioning(dir);
    for (const pid of left) process.kill(pid, 'SIGKILL');
    await sim.stop().catch(() => undefined);
    await receiver.close();
    await fs.rm(dir, { recursive: true, force: true });
    expect(left).toEqual([]);
  });

  it('delivers qr_timeout, signed, when nobody scans the QR; SIGTERM then closes everything in order and exits 0', async () => {
    worker = await spawnWorker({
      ...simulatedWorkerEnv(sim, { sessionsDir: path.join(dir, 'sessions'), logDir: path.join(dir, 'logs') }),
      ...browser!.env,
      ...receiver.workerEnv(),
      WHATSAPP_RESTORE_ON_START: 'false',
      WHATSAPP_QR_TIMEOUT_SECONDS: '3',
    });
    expect((await worker.api('POST', '/api/sessions', { session_id: 'al1', workspace_id: 'w1' })).status).toBe(201);
    await waitFor(async () => (await worker!.session('al1'))?.qr ?? undefined, 'a QR', 45_000);
    const alert = await waitFor(() => receiver.received.find((r) => r.event.event === 'session.alert'), 'the session.alert delivered', 30_000);
    expect(alert.event).toMatchObject({ session_id: 'al1', workspace_id: 'w1', payload: { kind: 'qr_timeout', reason: REASONS.QR_TIMEOUT, attempts: 0 } });
    expect(alert.timestampedSignatureValid).toBe(true);
    // Delivered after the status that says why.
    const events = receiver.received.map((r) => r.event);
    const stopped = events.findIndex((e) => e.event === 'session.status' && e.payload.status === 'disconnected');
    expect(stopped).toBeGreaterThanOrEqual(0);
    expect(stopped).toBeLessThan(events.indexOf(alert.event));

    expect(await worker.kill('SIGTERM')).toBe(0);
    const log = (await fs.readFile(path.join(dir, 'logs', 'whatsapp-service.log'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).message as string);
    expect(log.indexOf('Shutting down')).toBeGreaterThanOrEqual(0);
    expect(log.indexOf('Shutting down')).toBeLessThan(log.indexOf('Stopped'));
    expect(log.at(-1)).toBe('Stopped');
  });
});
