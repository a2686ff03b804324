/**
 * Real processes for the end-to-end scenarios: the built worker and CLI as child processes, the
 * simulator in-process, a webhook receiver, and a fresh Postgres database per test file.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { WorkerSession } from '@wa-session-sync/shared';
import {
  createTestDatabase,
  DEFAULT_PG_ADMIN_URL,
  killProcessesMentioning,
  runCli,
  simulatedWorkerEnv,
  startSimulator,
  startWebhookReceiver,
  startWorker,
  tempDir,
  waitFor,
  type CliResult,
  type ReceivedWebhook,
  type Simulator,
  type TestDatabase,
  type WaitOptions,
  type WebhookReceiver,
  type WorkerProcess,
} from '@wa-session-sync/test-support';

export { browserProcesses, waitFor } from '@wa-session-sync/test-support';

// Real processes and real Chromium: a scenario takes tens of seconds. (`testTimeout` in a
// project's jest config is ignored by jest; it has to be set here.)
jest.setTimeout(180_000);

export const PG_ADMIN_URL = process.env.E2E_PG_ADMIN_URL ?? DEFAULT_PG_ADMIN_URL;

/** How long and how often a scenario asks the worker or the webhook (a QR, a status, a message). */
export const SCENARIO_WAIT = { timeoutMs: 60_000, intervalMs: 150 } satisfies WaitOptions;

export function cleanupDir(dir: string): void {
  if (process.env.E2E_KEEP_DIRS) return void console.log(`kept ${dir}`);
  rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- scenario steps

export interface Account {
  session_id: string;
  workspace_id: string;
  phone: string;
}

/** Inserts the accounts as the owning application would: just workspace and session ids. */
export async function insertAccounts(db: TestDatabase, accounts: Account[]): Promise<void> {
  for (const account of accounts) {
    await db.query('INSERT INTO whatsapp_accounts (workspace_id, session_id) VALUES ($1, $2)', [account.workspace_id, account.session_id]);
  }
}

export interface AccountRow {
  session_id: string;
  workspace_id: string;
  status: string;
  phone_number: string | null;
  metadata: Record<string, any>;
}

export async function accountRows(db: TestDatabase): Promise<Record<string, AccountRow>> {
  const rows = await db.query<AccountRow>('SELECT session_id, workspace_id, status, phone_number, metadata FROM whatsapp_accounts ORDER BY session_id');
  return Object.fromEntries(rows.map((row) => [row.session_id, row]));
}

/** Asks the worker for a session, shows its QR to the simulated phone, and waits until it is connected. */
export async function pair(worker: WorkerProcess, simulator: { scanWhenShown(qr: string, phone: string): Promise<void> }, account: Account): Promise<void> {
  const created = await worker.api('POST', '/api/sessions', { session_id: account.session_id, workspace_id: account.workspace_id });
  if (created.status !== 201 && created.status !== 200) {
    throw new Error(`POST /api/sessions for ${account.session_id} answered ${created.status}: ${JSON.stringify(created.json)}`);
  }
  let last: WorkerSession | undefined;
  const qr = await waitFor(async () => (last = await worker.session(account.session_id))?.qr, `a QR for ${account.session_id}`, SCENARIO_WAIT).catch((error: Error) => {
    throw new Error(`${error.message}; last seen: ${JSON.stringify(last)}; worker output: ${worker.output().slice(-1500)}`);
  });
  await simulator.scanWhenShown(qr, account.phone);
  await waitForStatus(worker, account.session_id, 'connected');
}

/**
 * Pairs the accounts at once, as an operator starting several numbers would: each is started,
 * its QR scanned and waited for `connected` concurrently (the worker's launch gate orders the
 * launches).
 */
export async function pairAll(worker: WorkerProcess, simulator: { scanWhenShown(qr: string, phone: string): Promise<void> }, accounts: readonly Account[]): Promise<void> {
  await Promise.all(accounts.map((account) => pair(worker, simulator, account)));
}

export async function waitForStatus(worker: WorkerProcess, sessionId: string, status: string, timeoutMs = SCENARIO_WAIT.timeoutMs): Promise<WorkerSession> {
  let last: WorkerSession | undefined;
  try {
    return await waitFor(
      async () => {
        last = await worker.session(sessionId);
        return last?.status === status ? last : undefined;
      },
      `${sessionId} to be ${status}`,
      { ...SCENARIO_WAIT, timeoutMs },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(last)}`);
  }
}

/** The environment a wa-sync run needs to reach this database and this worker. */
export function cliEnv(db: TestDatabase, worker: WorkerProcess | { url: string; apiKey: string }, auditLog: string): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    WHATSAPP_NODE_SERVICE_URL: worker.url,
    WHATSAPP_NODE_API_KEY: worker.apiKey,
    WA_SYNC_AUDIT_LOG: auditLog,
  };
}

/** Waits for a `message` event with `body` at the receiver. */
export function waitForMessage(receiver: WebhookReceiver, sessionId: string, body: string): Promise<ReceivedWebhook> {
  return waitFor(
    () => receiver.received.find(({ event }) => event.event === 'message' && event.session_id === sessionId && (event.payload as { body?: string }).body === body),
    `a message "${body}" for ${sessionId} at the webhook`,
    SCENARIO_WAIT,
  );
}

// ---------------------------------------------------------------- one scenario's world

/**
 * What every scenario stands on: a temp folder, the simulator, a signed-webhook receiver, a fresh
 * migrated database holding `accounts`, and a worker that can be killed and started again.
 */
export interface Scenario {
  dir: string;
  simulator: Simulator;
  receiver: WebhookReceiver;
  db: TestDatabase;
  /** The worker running now (replaced by {@link Scenario.restartWorker}). */
  worker: WorkerProcess;
  /** Starts a new worker on the same sessions folder, key and webhook (the old one must be gone). */
  restartWorker(env?: Record<string, string>): Promise<WorkerProcess>;
  /** Runs the built `wa-sync` against this database and the current worker. */
  cli(args: string[]): Promise<CliResult>;
  close(): Promise<void>;
}

/** wa-sync as cron runs it, without colour. */
function wasync(args: string[], env: Record<string, string>): Promise<CliResult> {
  return runCli(args, { NO_COLOR: '1', ...env });
}

export async function startScenario(name: string, accounts: Account[]): Promise<Scenario> {
  const dir = await tempDir(`wa-e2e-${name}-`);
  const apiKey = `e2e-${name}-key-${randomBytes(12).toString('hex')}`;
  const simulator = await startSimulator();
  const receiver = await startWebhookReceiver();
  const db = await createTestDatabase({ prefix: 'wa_e2e', adminUrl: PG_ADMIN_URL });
  const migrated = await wasync(['migrate'], { DATABASE_URL: db.url });
  if (migrated.code !== 0) throw new Error(`wa-sync migrate failed: ${migrated.stderr}`);
  await insertAccounts(db, accounts);
  const start = (env: Record<string, string> = {}) =>
    startWorker({
      apiKey,
      env: {
        ...simulatedWorkerEnv(simulator, { sessionsDir: path.join(dir, 'sessions'), logDir: path.join(dir, 'logs') }),
        WHATSAPP_WEBJS_HEALTH_CHECK_INTERVAL: '2',
        ...receiver.workerEnv(),
        ...env,
      },
    });
  const scenario: Scenario = {
    dir,
    simulator,
    receiver,
    db,
    worker: await start(),
    async restartWorker(env) {
      scenario.worker = await start(env);
      return scenario.worker;
    },
    cli: (args) => wasync(args, cliEnv(db, scenario.worker, path.join(dir, 'audit.log'))),
    async close() {
      await scenario.worker.kill('SIGTERM');
      killProcessesMentioning(dir);
      await simulator.stop();
      await receiver.close();
      await db.drop();
      cleanupDir(dir);
    },
  };
  return scenario;
}
