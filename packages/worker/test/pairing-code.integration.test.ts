import path from 'node:path';
import { browsersUnderTest, simulatedWorkerEnv, startSimulator, type BrowserUnderTest, type Simulator } from '@wa-session-sync/test-support';
import { endProcessSuite, spawnWorker, tempDir, waitFor, type WorkerProcess } from './helpers';

// Pairing by code as operators do it: the built worker (dist/main.js) as a process, whatsapp-web.js
// in real Chromium, the simulator's page asked for the code and its phone entering it.
jest.setTimeout(120_000);

describe.each(browsersUnderTest().map((browser) => [browser.name, browser] as [string, BrowserUnderTest]))('pairing by code, on %s', (_name, browser) => {
  let sim: Simulator;
  let dir: string;
  let worker: WorkerProcess | undefined;
  const PHONE = '6281100000401';

  beforeAll(async () => {
    sim = await startSimulator({ quiet: true });
    dir = await tempDir('pairing');
    worker = await spawnWorker({
      ...simulatedWorkerEnv(sim, { sessionsDir: path.join(dir, 'sessions'), logDir: path.join(dir, 'logs') }),
      ...browser.env,
      LOG_LEVEL: 'debug',
    });
  });

  afterAll(async () => {
    expect(await endProcessSuite({ worker, dir, sim })).toEqual([]);
  });

  const view = async (id: string) => (await worker!.api('GET', `/api/sessions/${id}`)).json;

  it('links a session by the code the phone enters, then answers 409 for it once connected', async () => {
    expect((await worker!.api('POST', '/api/sessions', { session_id: 'c1', workspace_id: 'w1' })).status).toBe(201);
    await waitFor(async () => (await view('c1')).status === 'qr_scanning', 'c1 showing a QR', 45_000);

    // A second request replaces the first code: the old one no longer links, the session shows the new one.
    const first = await worker!.api('POST', '/api/sessions/c1/pairing-code', { phone_number: `+${PHONE}` });
    expect(first.status).toBe(200);
    expect(first.json.code).toMatch(/^[1-9A-HJ-NP-TV-Z]{8}$/);
    const second = await worker!.api('POST', '/api/sessions/c1/pairing-code', { phone_number: PHONE });
    expect(second.status).toBe(200);
    expect(second.json.code).not.toBe(first.json.code);
    expect(await view('c1')).toMatchObject({ status: 'qr_scanning', pairing_code: second.json.code });
    expect(() => sim.enterCode(first.json.code, PHONE)).toThrow();

    // The phone shows it as ABCD-EFGH; the simulator takes either form, as the phone's keypad does.
    const code: string = second.json.code;
    sim.enterCode(`${code.slice(0, 4)}-${code.slice(4)}`, PHONE);
    await waitFor(async () => (await view('c1')).status === 'connected', 'c1 connected', 45_000);
    expect(await view('c1')).toMatchObject({ status: 'connected', phone_number: PHONE, pairing_code: null, qr: null });

    const again = await worker!.api('POST', '/api/sessions/c1/pairing-code', { phone_number: PHONE });
    expect(again).toMatchObject({ status: 409, json: { error: { code: 'not_pairing' } } });
  });

  it('answers 400 for a bad number without asking the page', async () => {
    expect((await worker!.api('POST', '/api/sessions', { session_id: 'c2', workspace_id: 'w1' })).status).toBe(201);
    await waitFor(async () => (await view('c2')).status === 'qr_scanning', 'c2 showing a QR', 45_000);
    const bad = await worker!.api('POST', '/api/sessions/c2/pairing-code', { phone_number: '0812-3456' });
    expect(bad).toMatchObject({ status: 400, json: { error: { code: 'invalid_request' } } });
    expect((await view('c2')).pairing_code).toBeNull();
    expect((await worker!.api('DELETE', '/api/sessions/c2')).status).toBe(200);
  });
});
