/**
 * Real processes for the end-to-end scenarios: the built worker and CLI as child processes, the
 * simulator in-process, a webhook receiver, and a fresh Postgres database per test file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { WebhookEvent, WorkerSession, HealthResponse } from '@wa-session-sync/shared';
import { startSimulator, type Simulator } from '@wa-session-sync/simulator';

// Real processes and real Chromium: a scenario takes tens of seconds. (`testTimeout` in a
// project's jest config is ignored by jest; it has to be set here.)
jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '..', '..', '..');
export const WORKER_BIN = path.join(ROOT, 'packages', 'worker', 'dist', 'main.js');
export const CLI_BIN = path.join(ROOT, 'packages', 'cli', 'dist', 'bin.js');
const PG_ADMIN_URL = process.env.E2E_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `wa-e2e-${prefix}-`));
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 60_000,
  intervalMs = 150,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Processes of this machine whose command line mentions `needle` (e.g. a temp sessions dir). */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(needle) && Number(entry) !== process.pid) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

export function killProcessesMentioning(needle: string): void {
  for (const pid of processesMentioning(needle)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

// ---------------------------------------------------------------- webhook receiver

export interface ReceivedEvent {
  event: WebhookEvent;
  signatureValid: boolean;
}

export interface WebhookReceiver {
  url: string;
  secret: string;
  events: ReceivedEvent[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const secret = randomBytes(16).toString('hex');
  const events: ReceivedEvent[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const expected = 'sha256=' + createHmac('sha256', secret).update(raw).digest('hex');
      try {
        events.push({ event: JSON.parse(raw.toString('utf8')), signatureValid: request.headers['x-signature'] === expected });
        response.writeHead(204).end();
      } catch {
        response.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    secret,
    events,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------- worker process

export interface WorkerOptions {
  sessionsDir: string;
  logDir: string;
  chromiumArgs: string[];
  webhook?: WebhookReceiver;
  env?: Record<string, string>;
}

export interface WorkerProcess {
  url: string;
  apiKey: string;
  child: ChildProcess;
  output(): string;
  api<T = unknown>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }>;
  health(): Promise<HealthResponse>;
  sessions(): Promise<WorkerSession[]>;
  session(id: string): Promise<WorkerSession | undefined>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startWorker(options: WorkerOptions, apiKey = randomBytes(24).toString('hex')): Promise<WorkerProcess> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    HOST: '127.0.0.1',
    WHATSAPP_NODE_API_KEY: apiKey,
    WHATSAPP_SESSIONS_DIR: options.sessionsDir,
    LOG_DIR: options.logDir,
    WHATSAPP_WEBJS_BROWSER_ARGS: JSON.stringify(options.chromiumArgs),
    WHATSAPP_WEBJS_WEB_VERSION_CACHE: 'none',
    WHATSAPP_WEBJS_HEALTH_CHECK_INTERVAL: '2',
    ...(process.env.PUPPETEER_EXECUTABLE_PATH ? { PUPPETEER_EXECUTABLE_PATH: process.env.PUPPETEER_EXECUTABLE_PATH } : {}),
    ...(options.webhook ? { WHATSAPP_WEBHOOK_URL: options.webhook.url, WHATSAPP_WEBHOOK_SECRET: options.webhook.secret } : {}),
    ...options.env,
  };
  const child = spawn(process.execPath, [WORKER_BIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;

  const api = async <T>(method: string, route: string, body?: unknown) => {
    const response = await fetch(url + route, {
      method,
      headers: { 'x-api-key': apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  const worker: WorkerProcess = {
    url,
    apiKey,
    child,
    output: () => output,
    api,
    health: async () => (await (await fetch(url + '/health')).json()) as HealthResponse,
    sessions: async () => (await api<{ sessions: WorkerSession[] }>('GET', '/api/sessions')).body.sessions,
    session: async (id) => {
      const answer = await api<WorkerSession>('GET', `/api/sessions/${id}`);
      return answer.status === 200 ? answer.body : undefined;
    },
    kill: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
  await waitFor(
    `the worker to answer /health (output so far: ${output.slice(-500)})`,
    async () => {
      if (child.exitCode !== null) throw new Error(`worker exited ${child.exitCode}: ${output.slice(-2000)}`);
      return (await fetch(url + '/health')).ok;
    },
    30_000,
  );
  return worker;
}

// ---------------------------------------------------------------- CLI process

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json?: any;
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => {
      let json: unknown;
      if (args.includes('--json')) {
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

// ---------------------------------------------------------------- database

export interface TestDatabase {
  url: string;
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

export async function createDatabase(): Promise<TestDatabase> {
  const name = `wa_e2e_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  const client = new Client({ connectionString: url });
  await client.connect();
  return {
    url,
    query: async (sql, params) => (await client.query(sql, params as unknown[])).rows,
    drop: async () => {
      await client.end();
      const dropper = new Client({ connectionString: PG_ADMIN_URL });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}

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
export async function pair(worker: WorkerProcess, simulator: { scan(qr: string, phone: string): void }, account: Account): Promise<void> {
  const created = await worker.api('POST', '/api/sessions', { session_id: account.session_id, workspace_id: account.workspace_id });
  if (created.status !== 201 && created.status !== 200) {
    throw new Error(`POST /api/sessions for ${account.session_id} answered ${created.status}: ${JSON.stringify(created.body)}`);
  }
  let last: WorkerSession | undefined;
  const qr = await waitFor(`a QR for ${account.session_id}`, async () => (last = await worker.session(account.session_id))?.qr).catch((error: Error) => {
    throw new Error(`${error.message}; last seen: ${JSON.stringify(last)}; worker output: ${worker.output().slice(-1500)}`);
  });
  simulator.scan(qr, account.phone);
  await waitForStatus(worker, account.session_id, 'connected');
}

export async function waitForStatus(worker: WorkerProcess, sessionId: string, status: string, timeoutMs = 60_000): Promise<WorkerSession> {
  let last: WorkerSession | undefined;
  try {
    return await waitFor(
      `${sessionId} to be ${status}`,
      async () => {
        last = await worker.session(sessionId);
        return last?.status === status ? last : undefined;
      },
      timeoutMs,
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
export function waitForMessage(receiver: WebhookReceiver, sessionId: string, body: string): Promise<ReceivedEvent> {
  return waitFor(`a message "${body}" for ${sessionId} at the webhook`, () =>
    receiver.events.find((received) => received.event.event === 'message' && received.event.session_id === sessionId && received.event.payload.body === body),
  );
}

/** Chromium browser (not helper) processes whose command line mentions `dir`: one per running client. */
export function browserProcesses(dir: string): number[] {
  return processesMentioning(dir).filter((pid) => {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return /chrom/i.test(path.basename(args[0] ?? '')) && !args.some((arg) => arg.startsWith('--type='));
    } catch {
      return false;
    }
  });
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

export async function startScenario(name: string, accounts: Account[]): Promise<Scenario> {
  const dir = tempDir(name);
  const apiKey = `e2e-${name}-key-${randomBytes(12).toString('hex')}`;
  const simulator = await startSimulator();
  const receiver = await startWebhookReceiver();
  const db = await createDatabase();
  const migrated = await runCli(['migrate'], { DATABASE_URL: db.url });
  if (migrated.code !== 0) throw new Error(`wa-sync migrate failed: ${migrated.stderr}`);
  await insertAccounts(db, accounts);
  const options = (env: Record<string, string> = {}): WorkerOptions => ({
    sessionsDir: path.join(dir, 'sessions'),
    logDir: path.join(dir, 'logs'),
    chromiumArgs: simulator.chromiumArgs(),
    webhook: receiver,
    env,
  });
  const scenario: Scenario = {
    dir,
    simulator,
    receiver,
    db,
    worker: await startWorker(options(), apiKey),
    async restartWorker(env) {
      scenario.worker = await startWorker(options(env), apiKey);
      return scenario.worker;
    },
    cli: (args) => runCli(args, cliEnv(db, scenario.worker, path.join(dir, 'audit.log'))),
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
