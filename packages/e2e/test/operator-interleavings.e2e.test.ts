/**
 * What operators actually do, on real processes: the seed's manual step ("server restart → run
 * sync-sessions --auto-reconnect by hand, it is faster") while the worker is still restoring, a
 * start over the worker's capacity, and a QR nobody scans.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REASONS } from '@wa-session-sync/shared';
import { accountRows, browserProcesses, pairAll, SCENARIO_WAIT, startScenario, waitFor, waitForStatus, type Account, type Scenario } from './harness';

const ACCOUNTS: Account[] = Array.from({ length: 6 }, (_, i) => ({
  session_id: `op-${i + 1}`,
  workspace_id: String((i % 2) + 1),
  phone: `62812000030${i + 1}`,
}));
const SESSION_IDS = ACCOUNTS.map((account) => account.session_id);

let world: Scenario;

const workerLog = () => readFileSync(path.join(world.dir, 'logs', 'whatsapp-service.log'), 'utf8');
/** How many times the worker has begun a launch of each session, per its log. */
const launches = (log: string) =>
  Object.fromEntries(SESSION_IDS.map((id) => [id, log.split('\n').filter((line) => line.includes('"Creating WhatsApp session"') && line.includes(`"sessionId":"${id}"`)).length]));

/** The six sessions' statuses once they are all connected in the database. */
async function syncUntilConnected(): Promise<void> {
  for (const id of SESSION_IDS) await waitForStatus(world.worker, id, 'connected');
  const settled = await world.cli(['sync-sessions', '--json']);
  expect(settled.code).toBe(0);
  const rows = await accountRows(world.db);
  for (const id of SESSION_IDS) expect(rows[id]!.status).toBe('connected');
}

/**
 * Kills the worker, starts a new one on the same folder (restoring one launch at a time, so that
 * the sync below finds sessions still waiting), and runs the sync at once, as an operator would.
 */
async function restartAndSyncAtOnce(syncArgs: string[]) {
  await world.worker.kill('SIGKILL');
  const logBefore = launches(workerLog());
  await world.restartWorker({ WHATSAPP_RESTORE_CONCURRENCY: '1', WHATSAPP_LAUNCH_CONCURRENCY: '1' });
  const sync = await world.cli(['sync-sessions', '--json', ...syncArgs]);
  return { sync, logBefore };
}

beforeAll(async () => {
  world = await startScenario('interleave', ACCOUNTS);
  await pairAll(world.worker, world.simulator, ACCOUNTS);
  await syncUntilConnected();
});

afterAll(async () => {
  await world?.close();
});

test.each([[['--auto-reconnect']], [[]]])(
  'a sync run at once after a restart (%j) launches nothing twice and writes nothing disconnected',
  async (syncArgs) => {
    const { sync, logBefore } = await restartAndSyncAtOnce(syncArgs);
    expect(sync.code).toBe(0);
    // The sync met the restore halfway: it saw every session, some of them not connected yet.
    const seen = (sync.json.mismatches as Array<{ session_id: string; worker_status: string | null }>).map((m) => m.worker_status);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen).not.toContain(null);
    expect(sync.json.summary.reconnected).toBe(0);
    let rows = await accountRows(world.db);
    for (const id of SESSION_IDS) expect(rows[id]!.status).not.toBe('disconnected');

    await syncUntilConnected();
    rows = await accountRows(world.db);
    for (const account of ACCOUNTS) expect(rows[account.session_id]).toMatchObject({ status: 'connected', phone_number: account.phone });
    const after = launches(workerLog());
    for (const id of SESSION_IDS) expect(after[id]! - logBefore[id]!).toBe(1);
    const log = workerLog();
    expect(log).not.toContain('The browser is already running');
    expect(log).not.toContain('Session launch failed');
    await waitFor(() => browserProcesses(world.dir).length === 6, 'exactly one Chromium per session', SCENARIO_WAIT);
  },
);

test('a seventh session over WHATSAPP_MAX_SESSIONS=6 gets 503 capacity_exhausted and no Chromium', async () => {
  await world.worker.kill('SIGTERM');
  const worker = await world.restartWorker({ WHATSAPP_MAX_SESSIONS: '6' });
  for (const id of SESSION_IDS) await waitForStatus(worker, id, 'connected');
  const response = await fetch(`${worker.url}/api/sessions`, {
    method: 'POST',
    headers: { 'x-api-key': worker.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ session_id: 'op-7', workspace_id: '1' }),
  });
  expect(response.status).toBe(503);
  expect(response.headers.get('retry-after')).toBe('60');
  expect(await response.json()).toEqual({ error: { code: 'capacity_exhausted', message: expect.stringContaining('WHATSAPP_MAX_SESSIONS') } });
  expect((await worker.health()).capacity).toEqual({ max: 6, used: 6 });
  expect(await worker.session('op-7')).toBeUndefined();
  expect(browserProcesses(path.join(world.dir, 'sessions', '1', 'op-7'))).toEqual([]);
  expect(browserProcesses(world.dir)).toHaveLength(6);
});

test('a QR nobody scans times out: its Chromium is gone, it stays disconnected with QR_TIMEOUT, and the sync never revives it', async () => {
  await world.worker.kill('SIGTERM');
  const worker = await world.restartWorker({ WHATSAPP_QR_TIMEOUT_SECONDS: '3' });
  await world.db.query(`INSERT INTO whatsapp_accounts (workspace_id, session_id, status) VALUES ('1', 'op-unscanned', 'connected')`);
  expect((await worker.api('POST', '/api/sessions', { session_id: 'op-unscanned', workspace_id: '1' })).status).toBe(201);
  await waitFor(async () => (await worker.session('op-unscanned'))?.qr, 'a QR', SCENARIO_WAIT);
  const profile = path.join(world.dir, 'sessions', '1', 'op-unscanned');
  expect(browserProcesses(profile)).toHaveLength(1);

  const gone = await waitForStatus(worker, 'op-unscanned', 'disconnected', 20_000);
  expect(gone).toMatchObject({ reason: REASONS.QR_TIMEOUT, qr: null });
  await waitFor(() => browserProcesses(profile).length === 0, 'its Chromium to be gone', SCENARIO_WAIT);

  const launchesBefore = workerLog().split('\n').filter((l) => l.includes('"Creating WhatsApp session"') && l.includes('"op-unscanned"')).length;
  const sync = await world.cli(['sync-sessions', '--auto-reconnect', '--json']);
  expect(sync.code).toBe(0);
  expect(sync.json.summary.reconnected).toBe(0);
  expect((await accountRows(world.db))['op-unscanned']!.status).toBe('disconnected');
  expect(workerLog().split('\n').filter((l) => l.includes('"Creating WhatsApp session"') && l.includes('"op-unscanned"')).length).toBe(launchesBefore);
  expect(browserProcesses(profile)).toEqual([]);
});
