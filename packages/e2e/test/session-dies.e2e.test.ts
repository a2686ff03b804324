/**
 * The seed document's second scenario: a session dies while the worker runs. A conflict is
 * healed by the worker's own reconnect and the sync keeps the database in step; a session the
 * phone logged out ends up waiting for a QR, the database says so, and nothing revives it.
 */
import { accountRows, pairAll, SCENARIO_WAIT, startScenario, waitFor, waitForMessage, waitForStatus, type Account, type Scenario } from './harness';

const CONFLICTED: Account = { session_id: 'ws7-conflict', workspace_id: '7', phone: '6281200007001' };
const LOGGED_OUT: Account = { session_id: 'ws7-logout', workspace_id: '7', phone: '6281200007002' };

let world: Scenario;

function sync(...args: string[]) {
  return world.cli(['sync-sessions', '--json', '--workspace=7', ...args]);
}

function statusEvents(sessionId: string): string[] {
  return world.receiver.received
    .filter((received) => received.event.event === 'session.status' && received.event.session_id === sessionId)
    .map((received) => (received.event.payload as { status: string }).status);
}

beforeAll(async () => {
  world = await startScenario('dies', [CONFLICTED, LOGGED_OUT]);
  await pairAll(world.worker, world.simulator, [CONFLICTED, LOGGED_OUT]);
  expect((await sync()).code).toBe(0);
});

afterAll(async () => {
  await world?.close();
});

test('a conflicted session is reconnected by the worker, and the sync finds the database already right', async () => {
  expect((await accountRows(world.db))[CONFLICTED.session_id].status).toBe('connected');
  const seen = statusEvents(CONFLICTED.session_id).length;
  world.simulator.setState(CONFLICTED.phone, 'CONFLICT');

  await waitFor(
    () =>
      statusEvents(CONFLICTED.session_id)
        .slice(seen)
        .some((status) => status === 'disconnected' || status === 'reconnecting'),
    'the worker to report the session down',
    SCENARIO_WAIT,
  );
  const healed = await waitForStatus(world.worker, CONFLICTED.session_id, 'connected');
  expect(healed.phone_number).toBe(CONFLICTED.phone);
  expect(statusEvents(CONFLICTED.session_id).at(-1)).toBe('connected');

  const result = await sync('--auto-reconnect');
  expect(result.code).toBe(0);
  expect(result.json.summary).toMatchObject({ mismatches: 0, reconnected: 0 });
  expect((await accountRows(world.db))[CONFLICTED.session_id].status).toBe('connected');

  world.simulator.sendMessage(CONFLICTED.phone, '628999000070', 'setelah conflict');
  expect((await waitForMessage(world.receiver, CONFLICTED.session_id, 'setelah conflict')).signatureValid).toBe(true);
});

test('a session logged out from the phone waits for a QR, the database says so, and the sync does not revive it', async () => {
  world.simulator.logout(LOGGED_OUT.phone);
  const waiting = await waitForStatus(world.worker, LOGGED_OUT.session_id, 'qr_scanning');
  expect(waiting.reason).toBe('LOGOUT');

  const first = await sync('--auto-reconnect');
  expect(first.code).toBe(0);
  expect(first.json.summary).toMatchObject({ mismatches: 1, reconnected: 0, statuses_updated: 1 });
  expect((await accountRows(world.db))[LOGGED_OUT.session_id].status).toBe('qr_scanning');

  // Cron runs again: still waiting for a person, still not reconnected.
  const again = await sync('--auto-reconnect');
  expect(again.json.summary).toMatchObject({ reconnected: 0 });
  expect((await world.worker.session(LOGGED_OUT.session_id))?.status).toBe('qr_scanning');
  expect((await accountRows(world.db))[LOGGED_OUT.session_id].status).toBe('qr_scanning');

  // The person scans the new QR: connected again, and the next sync records it.
  // The status turns qr_scanning on the logout; the library's new QR follows a moment later.
  const qr = await waitFor(async () => (await world.worker.session(LOGGED_OUT.session_id))?.qr, 'the new QR after the logout', SCENARIO_WAIT);
  world.simulator.scan(qr, LOGGED_OUT.phone);
  await waitForStatus(world.worker, LOGGED_OUT.session_id, 'connected');
  await sync('--auto-reconnect');
  expect((await accountRows(world.db))[LOGGED_OUT.session_id].status).toBe('connected');
});
