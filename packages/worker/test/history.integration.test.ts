import { readFileSync } from 'node:fs';
import path from 'node:path';
import { browsersUnderTest, simulatedWorkerEnv, startSimulator, type Simulator } from '@wa-session-sync/test-support';
import { DEFAULT_HEARTBEAT_MS, HEARTBEAT_FILE } from '../src/sessions/history';
import { endProcessSuite, spawnWorker, tempDir, waitFor, type WorkerProcess } from './helpers';

// History and uptime on the real stack: the built worker, real whatsapp-web.js in Chromium against
// the simulator, a connected session, the worker SIGKILLed (nobody records a stop) and started
// again 20 s later. The production heartbeat interval (10 s) is used as it is.
jest.setTimeout(180_000);

const [browser] = browsersUnderTest();
const PHONE = '6281100000031';
const GAP_MS = 20_000;

interface Entry {
  at: string;
  from: string | null;
  to: string | null;
  reason: string | null;
}

describe('history and uptime across a SIGKILL', () => {
  let sim: Simulator;
  let dir: string;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    sim = await startSimulator({ quiet: true });
    dir = await tempDir('history');
  });

  afterAll(async () => {
    expect(await endProcessSuite({ worker, dir, sim })).toEqual([]);
  });

  it('counts the time from the last heartbeat to the next start as down, and lists the stop and the start', async () => {
    const sessionsDir = path.join(dir, 'sessions');
    const env = () => ({ ...simulatedWorkerEnv(sim, { sessionsDir, logDir: path.join(dir, 'logs') }), ...browser!.env });
    worker = await spawnWorker(env());
    const postedAt = Date.now();
    expect((await worker.api('POST', '/api/sessions', { session_id: 'h1', workspace_id: 'w1' })).status).toBe(201);
    const qr = await waitFor(async () => (await worker!.session('h1'))?.qr ?? undefined, 'a QR', 45_000);
    sim.scan(qr, PHONE);
    await waitFor(async () => (await worker!.session('h1'))?.status === 'connected', 'h1 connected', 45_000);
    const connectedSeenAt = Date.now();
    const before = await worker.session('h1');
    expect(before).toMatchObject({ uptime_24h: expect.any(Number), messages_24h: 0, last_message_at: null });

    // A heartbeat written after the session connected, so the stop is dated after it.
    const heartbeatFile = path.join(sessionsDir, HEARTBEAT_FILE);
    const heartbeat = () => (JSON.parse(readFileSync(heartbeatFile, 'utf8')) as { at: string }).at;
    await waitFor(() => Date.parse(heartbeat()) > connectedSeenAt, 'a heartbeat after the connection', DEFAULT_HEARTBEAT_MS + 5000);
    await worker.kill('SIGKILL');
    const killedAt = Date.now();
    const lastHeartbeat = heartbeat();
    await waitFor(() => Date.now() >= killedAt + GAP_MS, 'the 20 s gap', { timeoutMs: GAP_MS + 5000, intervalMs: 250 });

    const restartedAt = Date.now();
    worker = await spawnWorker(env());
    await waitFor(async () => (await worker!.session('h1'))?.status === 'connected', 'h1 connected again (restored)', 60_000);
    const reconnectedSeenAt = Date.now();

    const answer = await worker.api<{ events: Entry[] }>('GET', '/api/sessions/h1/events');
    expect(answer.status).toBe(200);
    const events = answer.json.events;
    const stop = events.find((e) => e.reason === 'WORKER_STOPPED');
    const start = events.find((e) => e.reason === 'WORKER_STARTED');
    expect(stop).toEqual({ at: lastHeartbeat, from: null, to: null, reason: 'WORKER_STOPPED' });
    expect(Date.parse(start!.at)).toBeGreaterThanOrEqual(restartedAt);
    expect(Date.parse(start!.at)).toBeLessThanOrEqual(reconnectedSeenAt);
    expect(events.indexOf(stop!)).toBeLessThan(events.indexOf(start!));
    expect(events.filter((e) => e.to === 'connected')).toHaveLength(2);
    // ?since= keeps only what follows.
    const since = await worker.api<{ events: Entry[] }>('GET', `/api/sessions/h1/events?since=${encodeURIComponent(start!.at)}`);
    expect(since.json.events[0]).toEqual(start);
    expect((await worker.api('GET', '/api/sessions/h1/events?since=yesterday')).status).toBe(400);
    expect((await worker.api('GET', '/api/sessions/nope/events')).status).toBe(404);

    // The window meant to run began at the POST; down: before the first connection, from the last
    // heartbeat to the restored connection. Bounds from the times this test measured.
    const askedAt = Date.now();
    const view = await worker.session('h1');
    const answeredAt = Date.now();
    const meantMs = answeredAt - postedAt;
    const downMs = (1 - view!.uptime_24h!) * meantMs;
    // At least the gap between the kill and the restart, plus the heartbeat's lag before the kill.
    const lowest = restartedAt - killedAt + (killedAt - Date.parse(lastHeartbeat)) - 1000;
    // At most: the first connection, the heartbeat's lag, the gap, the restore's connection.
    const highest = connectedSeenAt - postedAt + DEFAULT_HEARTBEAT_MS + (reconnectedSeenAt - killedAt) + (answeredAt - askedAt) + 1000;
    expect(downMs).toBeGreaterThanOrEqual(lowest);
    expect(downMs).toBeLessThanOrEqual(highest);
    expect(downMs).toBeGreaterThanOrEqual(GAP_MS);

    expect(await worker.kill('SIGTERM')).toBe(0);
    // A clean stop is recorded through the shutdown path, and leaves no heartbeat.
    const history = readFileSync(path.join(sessionsDir, 'w1', 'h1', 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Entry);
    expect(history.at(-1)).toMatchObject({ from: null, to: null, reason: 'WORKER_STOPPED' });
    expect(() => readFileSync(heartbeatFile)).toThrow();
  });
});
