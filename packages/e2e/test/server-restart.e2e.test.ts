/**
 * The seed document's first scenario: the Node.js service restarts, its sessions are gone, the
 * database still says `connected`, and chats stop arriving. The sync must tell the truth and
 * bring every session back; the worker's own restore must make the sync find nothing to fix.
 */
import { accountRows, browserProcesses, SCENARIO_WAIT, startScenario, waitFor, waitForMessage, waitForStatus, pairAll, type Account, type Scenario } from './harness';

const ACCOUNTS: Account[] = [
  { session_id: 'ws1-sales', workspace_id: '1', phone: '6281200001001' },
  { session_id: 'ws1-support', workspace_id: '1', phone: '6281200001002' },
  { session_id: 'ws2-sales', workspace_id: '2', phone: '6281200002001' },
];
const SESSION_IDS = ACCOUNTS.map((account) => account.session_id);

let world: Scenario;

function sync(...args: string[]) {
  return world.cli(['sync-sessions', '--json', ...args]);
}

beforeAll(async () => {
  world = await startScenario('restart', ACCOUNTS);
});

afterAll(async () => {
  await world?.close();
});

test('paired sessions are connected in the database after a sync, and their messages reach the webhook', async () => {
  await pairAll(world.worker, world.simulator, ACCOUNTS);

  const first = await sync();
  expect(first.code).toBe(0);
  expect(first.json.summary).toMatchObject({ statuses_updated: 3 });
  const rows = await accountRows(world.db);
  for (const account of ACCOUNTS) {
    expect(rows[account.session_id]).toMatchObject({ status: 'connected', phone_number: account.phone });
  }

  world.simulator.sendMessage('6281200001001', '628999000001', 'sebelum restart');
  const delivered = await waitForMessage(world.receiver, 'ws1-sales', 'sebelum restart');
  expect(delivered.signatureValid).toBe(true);
  expect(delivered.event).toMatchObject({ workspace_id: '1', payload: { from: '628999000001@c.us' } });
});

test('with the worker killed, the sync says the worker is unreachable and changes nothing', async () => {
  const before = await accountRows(world.db);
  await world.worker.kill('SIGKILL');

  const down = await sync();
  expect(down.code).toBe(1);
  expect(down.stderr).toContain(world.worker.url);
  expect(down.stderr).not.toContain(world.worker.apiKey);
  expect(await accountRows(world.db)).toEqual(before);
});

test('a worker that lost its sessions: the sync reports each mismatch, and --auto-reconnect brings every session back without a QR', async () => {
  // The seed's failure: the process is back but nothing is listening any more.
  const worker = await world.restartWorker({ WHATSAPP_RESTORE_ON_START: 'false' });
  expect(await worker.sessions()).toEqual([]);

  const truth = await sync();
  expect(truth.code).toBe(0);
  expect(truth.json.summary).toMatchObject({ mismatches: 3, reconnected: 0, statuses_updated: 3 });
  let rows = await accountRows(world.db);
  for (const id of SESSION_IDS) {
    expect(rows[id].status).toBe('disconnected');
    expect(rows[id].metadata).toMatchObject({ reason: 'Node.js session not found during sync', auto_disconnected_at: expect.any(String) });
  }

  const qrsBefore = world.receiver.received.filter((received) => received.event.event === 'session.qr').length;
  const healed = await sync('--auto-reconnect');
  expect(healed.code).toBe(0);
  expect(healed.json.summary).toMatchObject({ reconnected: 3 });
  rows = await accountRows(world.db);
  for (const id of SESSION_IDS) {
    expect(rows[id].status).not.toBe('connected'); // never connected on paper: the worker has not said so yet
    expect(rows[id].metadata).toMatchObject({ reconnect_triggered_by: 'sync_command', auto_reconnect_at: expect.any(String) });
  }

  for (const id of SESSION_IDS) await waitForStatus(worker, id, 'connected');
  expect(world.receiver.received.filter((received) => received.event.event === 'session.qr').length).toBe(qrsBefore);

  const settled = await sync('--auto-reconnect');
  expect(settled.json.summary).toMatchObject({ reconnected: 0 });
  rows = await accountRows(world.db);
  for (const account of ACCOUNTS) expect(rows[account.session_id]).toMatchObject({ status: 'connected', phone_number: account.phone });

  world.simulator.sendMessage('6281200002001', '628999000002', 'setelah sync');
  expect((await waitForMessage(world.receiver, 'ws2-sales', 'setelah sync')).signatureValid).toBe(true);
});

test('a worker killed and started normally restores every session by itself: the sync finds nothing to fix', async () => {
  await world.worker.kill('SIGKILL');
  const worker = await world.restartWorker();

  for (const id of SESSION_IDS) await waitForStatus(worker, id, 'connected');
  const sync1 = await sync('--auto-reconnect');
  expect(sync1.code).toBe(0);
  expect(sync1.json.summary).toMatchObject({ mismatches: 0, reconnected: 0, statuses_updated: 0 });

  world.simulator.sendMessage('6281200001002', '628999000003', 'setelah restore');
  expect((await waitForMessage(world.receiver, 'ws1-support', 'setelah restore')).signatureValid).toBe(true);

  // One browser per session, none left over from the killed worker's Chromium.
  await waitFor(() => browserProcesses(world.dir).length === 3, 'exactly one Chromium browser per session', SCENARIO_WAIT);
});
