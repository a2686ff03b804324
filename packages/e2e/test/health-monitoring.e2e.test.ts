/**
 * The seed document's monitoring scenario: `/health`, `/api/sessions` and a dry-run sync tell
 * the same story, and a dry run changes nothing.
 */
import path from 'node:path';
import { startSimulator, type Simulator } from '@wa-session-sync/simulator';
import {
  accountRows,
  cleanupDir,
  cliEnv,
  createDatabase,
  insertAccounts,
  killProcessesMentioning,
  pair,
  runCli,
  startWorker,
  tempDir,
  waitFor,
  type Account,
  type TestDatabase,
  type WorkerProcess,
} from './harness';

const PAIRED: Account[] = [
  { session_id: 'ws3-a', workspace_id: '3', phone: '6281200003001' },
  { session_id: 'ws4-b', workspace_id: '4', phone: '6281200004001' },
];
const WAITING: Account = { session_id: 'ws4-new', workspace_id: '4', phone: '6281200004002' };
const GONE: Account = { session_id: 'ws4-gone', workspace_id: '4', phone: '6281200004003' };

let simulator: Simulator;
let db: TestDatabase;
let dir: string;
let worker: WorkerProcess;

beforeAll(async () => {
  dir = tempDir('health');
  simulator = await startSimulator();
  db = await createDatabase();
  expect(await runCli(['migrate'], { DATABASE_URL: db.url })).toMatchObject({ code: 0 });
  await insertAccounts(db, [...PAIRED, WAITING, GONE]);
  worker = await startWorker({ sessionsDir: path.join(dir, 'sessions'), logDir: path.join(dir, 'logs'), chromiumArgs: simulator.chromiumArgs() });
  for (const account of PAIRED) await pair(worker, simulator, account);
  // A session shown a QR that nobody scans yet.
  await worker.api('POST', '/api/sessions', { session_id: WAITING.session_id, workspace_id: WAITING.workspace_id });
  await waitFor('a QR for the waiting session', async () => (await worker.session(WAITING.session_id))?.qr);
  // The database believes a session runs that the worker never had.
  await db.query("UPDATE whatsapp_accounts SET status = 'connected', phone_number = $2 WHERE session_id = $1", [GONE.session_id, GONE.phone]);
});

afterAll(async () => {
  await worker?.kill('SIGTERM');
  killProcessesMentioning(dir);
  await simulator?.stop();
  await db?.drop();
  cleanupDir(dir);
});

test('/health counts exactly what /api/sessions lists', async () => {
  const [health, sessions] = await Promise.all([worker.health(), worker.sessions()]);
  expect(health.status).toBe('ok');
  expect(health.uptime).toBeGreaterThan(0);
  expect(sessions.map((session) => session.session_id).sort()).toEqual(['ws3-a', 'ws4-b', 'ws4-new']);
  expect(health.sessions).toMatchObject({ total: 3, connected: 2, by_status: { connected: 2, qr_scanning: 1 } });

  const byWorkspace = (await worker.api<{ sessions: { session_id: string }[] }>('GET', '/api/sessions?workspace_id=4')).body.sessions;
  expect(byWorkspace.map((session) => session.session_id).sort()).toEqual(['ws4-b', 'ws4-new']);
});

test('a dry-run sync reports the same worker and the database mismatches, and writes nothing', async () => {
  const before = await accountRows(db);
  const env = cliEnv(db, worker, path.join(dir, 'audit.log'));
  const dry = await runCli(['sync-sessions', '--dry-run', '--auto-reconnect', '--json'], env);
  expect(dry.code).toBe(0);
  expect(dry.json.worker).toMatchObject({ url: worker.url, total: 3, connected: 2 });
  // ws3-a and ws4-b: the worker is connected, the database is not; ws4-new: waiting for a QR;
  // ws4-gone: the database says connected, the worker has nothing.
  expect(dry.json.summary.mismatches).toBe(4);
  const mismatched = JSON.stringify(dry.json);
  for (const id of ['ws3-a', 'ws4-b', 'ws4-new', 'ws4-gone']) expect(mismatched).toContain(id);
  expect(await accountRows(db)).toEqual(before);

  // The human report tells the operator the same, without colour when NO_COLOR is set.
  const human = await runCli(['sync-sessions', '--dry-run', '--workspace=4'], env);
  expect(human.code).toBe(0);
  expect(human.stdout).toMatch(/Mismatches found: 3/);
  expect(human.stdout).toContain('ws4-gone');
  expect(human.stdout).not.toMatch(/\u001b\[/);
  expect(await accountRows(db)).toEqual(before);
});
