/**
 * The seed document's monitoring scenario: `/health`, `/api/sessions` and a dry-run sync tell
 * the same story, and a dry run changes nothing.
 */
import { accountRows, pairAll, SCENARIO_WAIT, startScenario, waitFor, type Account, type Scenario } from './harness';

const PAIRED: Account[] = [
  { session_id: 'ws3-a', workspace_id: '3', phone: '6281200003001' },
  { session_id: 'ws4-b', workspace_id: '4', phone: '6281200004001' },
];
const WAITING: Account = { session_id: 'ws4-new', workspace_id: '4', phone: '6281200004002' };
const GONE: Account = { session_id: 'ws4-gone', workspace_id: '4', phone: '6281200004003' };

let world: Scenario;

beforeAll(async () => {
  world = await startScenario('health', [...PAIRED, WAITING, GONE]);
  const { worker, simulator, db } = world;
  await pairAll(worker, simulator, PAIRED);
  // A session shown a QR that nobody scans yet.
  await worker.api('POST', '/api/sessions', { session_id: WAITING.session_id, workspace_id: WAITING.workspace_id });
  await waitFor(async () => (await worker.session(WAITING.session_id))?.qr, 'a QR for the waiting session', SCENARIO_WAIT);
  // The database believes a session runs that the worker never had.
  await db.query("UPDATE whatsapp_accounts SET status = 'connected', phone_number = $2 WHERE session_id = $1", [GONE.session_id, GONE.phone]);
});

afterAll(async () => {
  await world?.close();
});

test('/health counts exactly what /api/sessions lists', async () => {
  const { worker } = world;
  const [health, sessions] = await Promise.all([worker.health(), worker.sessions()]);
  expect(health.status).toBe('ok');
  expect(health.uptime).toBeGreaterThan(0);
  expect(sessions.map((session) => session.session_id).sort()).toEqual(['ws3-a', 'ws4-b', 'ws4-new']);
  expect(health.sessions).toMatchObject({ total: 3, connected: 2, by_status: { connected: 2, qr_scanning: 1 } });

  const byWorkspace = (await worker.api<{ sessions: { session_id: string }[] }>('GET', '/api/sessions?workspace_id=4')).json.sessions;
  expect(byWorkspace.map((session) => session.session_id).sort()).toEqual(['ws4-b', 'ws4-new']);
});

test('a dry-run sync reports the same worker and the database mismatches, and writes nothing', async () => {
  const before = await accountRows(world.db);
  const dry = await world.cli(['sync-sessions', '--dry-run', '--auto-reconnect', '--json']);
  expect(dry.code).toBe(0);
  expect(dry.json.worker).toMatchObject({ url: world.worker.url, total: 3, connected: 2 });
  // ws3-a and ws4-b: the worker is connected, the database is not; ws4-new: waiting for a QR;
  // ws4-gone: the database says connected, the worker has nothing.
  expect(dry.json.summary.mismatches).toBe(4);
  const mismatched = JSON.stringify(dry.json);
  for (const id of ['ws3-a', 'ws4-b', 'ws4-new', 'ws4-gone']) expect(mismatched).toContain(id);
  expect(await accountRows(world.db)).toEqual(before);

  // The human report tells the operator the same, without colour when NO_COLOR is set.
  const human = await world.cli(['sync-sessions', '--dry-run', '--workspace=4']);
  expect(human.code).toBe(0);
  expect(human.stdout).toMatch(/Mismatches found: 3/);
  expect(human.stdout).toContain('ws4-gone');
  expect(human.stdout).not.toMatch(/\u001b\[/);
  expect(await accountRows(world.db)).toEqual(before);
});
