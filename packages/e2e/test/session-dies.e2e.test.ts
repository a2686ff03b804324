/**
 * The seed document's second scenario: a session dies while the worker runs. A conflict is
 * healed by the worker's own reconnect and the sync keeps the database in step; a session the
 * phone logged out ends up waiting for a QR, the database says so, and nothing revives it.
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
  startWebhookReceiver,
  startWorker,
  tempDir,
  waitFor,
  waitForMessage,
  waitForStatus,
  type Account,
  type TestDatabase,
  type WebhookReceiver,
  type WorkerProcess,
} from './harness';

const CONFLICTED: Account = { session_id: 'ws7-conflict', workspace_id: '7', phone: '6281200007001' };
const LOGGED_OUT: Account = { session_id: 'ws7-logout', workspace_id: '7', phone: '6281200007002' };

let simulator: Simulator;
let receiver: WebhookReceiver;
let db: TestDatabase;
let dir: string;
let worker: WorkerProcess;

function sync(...args: string[]) {
  return runCli(['sync-sessions', '--json', '--workspace=7', ...args], cliEnv(db, worker, path.join(dir, 'audit.log')));
}

function statusEvents(sessionId: string): string[] {
  return receiver.events
    .filter((received) => received.event.event === 'session.status' && received.event.session_id === sessionId)
    .map((received) => (received.event.payload as { status: string }).status);
}

beforeAll(async () => {
  dir = tempDir('dies');
  simulator = await startSimulator();
  receiver = await startWebhookReceiver();
  db = await createDatabase();
  expect(await runCli(['migrate'], { DATABASE_URL: db.url })).toMatchObject({ code: 0 });
  await insertAccounts(db, [CONFLICTED, LOGGED_OUT]);
  worker = await startWorker({
    sessionsDir: path.join(dir, 'sessions'),
    logDir: path.join(dir, 'logs'),
    chromiumArgs: simulator.chromiumArgs(),
    webhook: receiver,
  });
  await pair(worker, simulator, CONFLICTED);
  await pair(worker, simulator, LOGGED_OUT);
  expect((await sync()).code).toBe(0);
});

afterAll(async () => {
  await worker?.kill('SIGTERM');
  killProcessesMentioning(dir);
  await simulator?.stop();
  await receiver?.close();
  await db?.drop();
  cleanupDir(dir);
});

test('a conflicted session is reconnected by the worker, and the sync finds the database already right', async () => {
  expect((await accountRows(db))[CONFLICTED.session_id].status).toBe('connected');
  const seen = statusEvents(CONFLICTED.session_id).length;
  simulator.setState(CONFLICTED.phone, 'CONFLICT');

  await waitFor('the worker to report the session down', () =>
    statusEvents(CONFLICTED.session_id)
      .slice(seen)
      .some((status) => status === 'disconnected' || status === 'reconnecting'),
  );
  const healed = await waitForStatus(worker, CONFLICTED.session_id, 'connected');
  expect(healed.phone_number).toBe(CONFLICTED.phone);
  expect(statusEvents(CONFLICTED.session_id).at(-1)).toBe('connected');

  const result = await sync('--auto-reconnect');
  expect(result.code).toBe(0);
  expect(result.json.summary).toMatchObject({ mismatches: 0, reconnected: 0 });
  expect((await accountRows(db))[CONFLICTED.session_id].status).toBe('connected');

  simulator.sendMessage(CONFLICTED.phone, '628999000070', 'setelah conflict');
  expect((await waitForMessage(receiver, CONFLICTED.session_id, 'setelah conflict')).signatureValid).toBe(true);
});

test('a session logged out from the phone waits for a QR, the database says so, and the sync does not revive it', async () => {
  simulator.logout(LOGGED_OUT.phone);
  const waiting = await waitForStatus(worker, LOGGED_OUT.session_id, 'qr_scanning');
  expect(waiting.reason).toBe('LOGOUT');

  const first = await sync('--auto-reconnect');
  expect(first.code).toBe(0);
  expect(first.json.summary).toMatchObject({ mismatches: 1, reconnected: 0, statuses_updated: 1 });
  expect((await accountRows(db))[LOGGED_OUT.session_id].status).toBe('qr_scanning');

  // Cron runs again: still waiting for a person, still not reconnected.
  const again = await sync('--auto-reconnect');
  expect(again.json.summary).toMatchObject({ reconnected: 0 });
  expect((await worker.session(LOGGED_OUT.session_id))?.status).toBe('qr_scanning');
  expect((await accountRows(db))[LOGGED_OUT.session_id].status).toBe('qr_scanning');

  // The person scans the new QR: connected again, and the next sync records it.
  const qr = (await worker.session(LOGGED_OUT.session_id))!.qr!;
  simulator.scan(qr, LOGGED_OUT.phone);
  await waitForStatus(worker, LOGGED_OUT.session_id, 'connected');
  await sync('--auto-reconnect');
  expect((await accountRows(db))[LOGGED_OUT.session_id].status).toBe('connected');
});
