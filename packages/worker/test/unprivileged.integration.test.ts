import fs from 'node:fs/promises';
import path from 'node:path';
import { browsersUnderTest, simulatedWorkerEnv, startSimulator, startWorker, unprivilegedUser, type Simulator } from '@wa-session-sync/test-support';
import { API_KEY, endProcessSuite, processesMentioning, startReceiver, tempDir, waitFor, type Receiver, type WorkerProcess } from './helpers';

// The built worker as the shipped systemd unit runs it: an unprivileged user, a working directory
// it cannot write (ProtectSystem=strict makes the install folder read-only), its state, logs and
// HOME in folders of its own (StateDirectory, LogsDirectory), and whatsapp-web.js's web-version
// cache left at its default, which the tests elsewhere turn off.
jest.setTimeout(120_000);

const user = unprivilegedUser();
const [browser] = browsersUnderTest();

describe('wa-worker as an unprivileged user in a read-only working directory, default web-version cache', () => {
  let sim: Simulator;
  let receiver: Receiver;
  let dir: string;
  let sessionsDir: string;
  let worker: WorkerProcess | undefined;
  const phone = '6281100000077';

  /** A folder of the worker's own, as systemd's StateDirectory= makes it. */
  const ownedByWorker = async (name: string) => {
    const folder = path.join(dir, name);
    await fs.mkdir(folder, { mode: 0o700 });
    await fs.chown(folder, user.uid, user.gid);
    return folder;
  };

  beforeAll(async () => {
    sim = await startSimulator({ quiet: true });
    receiver = await startReceiver();
    dir = await tempDir('unprivileged');
    await fs.chmod(dir, 0o755);
  });

  afterAll(async () => {
    expect(await endProcessSuite({ worker, dir, sim, receiver })).toEqual([]);
  });

  it('pairs, connects and forwards a message, keeping the web-version cache in a private folder of its own', async () => {
    const cwd = path.join(dir, 'install');
    await fs.mkdir(cwd, { mode: 0o755 }); // root's: the worker may read it, never write it
    sessionsDir = path.join(await ownedByWorker('state'), 'sessions');
    const env: Record<string, string> = {
      ...simulatedWorkerEnv(sim, { sessionsDir, logDir: await ownedByWorker('logs') }),
      ...browser!.env,
      HOME: await ownedByWorker('home'),
      WHATSAPP_WEBHOOK_URL: receiver.url,
      WHATSAPP_WEBHOOK_SECRET: 'unprivileged-webhook-secret',
    };
    delete env.WHATSAPP_WEBJS_WEB_VERSION_CACHE;
    worker = await startWorker({ apiKey: API_KEY, env, cwd, user });

    expect((await worker.api('POST', '/api/sessions', { session_id: 'u1', workspace_id: 'w1' })).status).toBe(201);
    const qr = await waitFor(async () => (await worker!.session('u1'))?.qr ?? undefined, 'a QR', 45_000);
    sim.scan(qr, phone);
    await waitFor(async () => (await worker!.session('u1'))?.status === 'connected', 'u1 connected', 45_000);

    const id = sim.sendMessage(phone, '628777', 'dari nobody');
    const got = await waitFor(() => receiver.received.find((r) => r.event.event === 'message' && JSON.stringify(r.event.payload).includes(id)), 'the message', 45_000);
    expect(got.event).toMatchObject({ session_id: 'u1', payload: { body: 'dari nobody' } });

    // whatsapp-web.js saved the page it loaded, where only the worker's user can read it.
    const cache = path.join(sessionsDir, '.wwebjs_cache');
    const stat = await fs.stat(cache);
    expect([stat.uid, stat.mode & 0o777]).toEqual([user.uid, 0o700]);
    expect((await fs.readdir(cache)).some((file) => file.endsWith('.html'))).toBe(true);
    expect(await fs.readdir(cwd)).toEqual([]);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(processesMentioning(sessionsDir)).toEqual([]);
  });
});
