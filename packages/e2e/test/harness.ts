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
  rmSync(dir, { recursive: true, force: true });
}
