import fs from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import type { Client } from 'pg';
import type { WorkerSession } from '@wa-session-sync/shared';
import {
  CLI_BIN,
  createTestDatabase as createDatabase,
  readBody,
  runCli,
  startLocalServer,
  tempDir,
  type LocalServer,
  type TestDatabase,
} from '@wa-session-sync/test-support';

export { runCli, startCli, tempDir, type CliResult, type TestDatabase } from '@wa-session-sync/test-support';

export const BIN = CLI_BIN;
export const API_KEY = 'test-api-key-7f3a';

/**
 * A fresh database `wa_sync_test_<random>`, dropped WITH (FORCE) by `drop()`. Its `url` carries a
 * password the server ignores (trust auth), to prove it is never printed.
 */
export function createTestDatabase(): Promise<TestDatabase> {
  return createDatabase({ prefix: 'wa_sync_test', password: 's3cret-pw-trust-auth-ignores-it' });
}

export interface SeedRow {
  session_id: string;
  workspace_id?: string;
  status?: string;
  phone_number?: string | null;
  /** Any JSON value (an array, a string, null... to stand for a corrupted row); `{}` when absent. */
  metadata?: unknown;
  is_active?: boolean;
  updated_at?: string;
}

export async function seedAccounts(client: Client, rows: SeedRow[]): Promise<void> {
  await client.query('TRUNCATE whatsapp_accounts');
  for (const row of rows) {
    await client.query(
      `INSERT INTO whatsapp_accounts (workspace_id, session_id, status, phone_number, metadata, is_active, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7::timestamptz, now()))`,
      [
        row.workspace_id ?? '1',
        row.session_id,
        row.status ?? 'connected',
        row.phone_number ?? null,
        JSON.stringify(row.metadata === undefined ? {} : row.metadata),
        row.is_active ?? true,
        row.updated_at ?? null,
      ],
    );
  }
}

export interface AccountState {
  status: string;
  phone_number: string | null;
  metadata: Record<string, unknown>;
  updated_at: Date;
}

export async function accountsBySession(client: Client): Promise<Record<string, AccountState>> {
  const { rows } = await client.query('SELECT session_id, status, phone_number, metadata, updated_at FROM whatsapp_accounts');
  return Object.fromEntries(rows.map(({ session_id, ...rest }) => [session_id, rest]));
}

export interface RecordedRequest {
  method: string;
  url: string;
  apiKey: string | undefined;
  body: string;
}

/**
 * An HTTP stand-in for the worker (node:http on an ephemeral port). Tests set what it
 * reports and how it answers, and read the requests it received.
 */
export class WorkerStandIn {
  sessions: unknown[] = [];
  /**
   * `'hang'`: /health never answers; `'trickle'`: it answers 200 and then one byte every 100 ms,
   * forever; `{ status, streamBytes }`: that status and a body of that many bytes, written as the
   * client reads (never held by the stand-in).
   */
  health: { status: number; body: string } | { status: number; streamBytes: number } | 'hang' | 'trickle' | null = null;
  /** When set, the raw body `GET /api/sessions` answers (200) instead of the list. */
  sessionsBody: string | null = null;
  /** Per session id: the answer to its start/reconnect request. */
  answers = new Map<string, { status: number; body: unknown }>();
  /** Session ids whose start/reconnect requests are recorded, then their connection destroyed without an answer. */
  drop = new Set<string>();
  requests: RecordedRequest[] = [];
  private stalled: (() => void)[] = [];
  private stallSessions = false;
  private arrived: (() => void)[] = [];

  private constructor(private readonly server: LocalServer) {}

  static async start(): Promise<WorkerStandIn> {
    let standIn: WorkerStandIn | undefined;
    const server = await startLocalServer((req, res) => standIn!.handle(req, res));
    standIn = new WorkerStandIn(server);
    return standIn;
  }

  get url(): string {
    return this.server.url;
  }

  report(...sessions: Partial<WorkerSession>[]): void {
    this.sessions = sessions.map((s) => ({
      workspace_id: '1',
      status: 'connected',
      phone_number: null,
      updated_at: '2026-01-01T00:00:00.000Z',
      ...s,
    }));
  }

  reset(): void {
    this.sessions = [];
    this.health = null;
    this.sessionsBody = null;
    this.answers.clear();
    this.drop.clear();
    this.requests = [];
    this.stallSessions = false;
  }

  /** From now on `GET /api/sessions` waits until `release()`. */
  stall(): void {
    this.stallSessions = true;
  }

  release(): void {
    this.stallSessions = false;
    for (const resume of this.stalled.splice(0)) resume();
  }

  /** Resolves once a `GET /api/sessions` has arrived (the run is inside the lock then). */
  sessionsRequested(): Promise<void> {
    if (this.requests.some((r) => r.method === 'GET' && r.url.startsWith('/api/sessions'))) return Promise.resolve();
    return new Promise((resolve) => this.arrived.push(resolve));
  }

  posts(): RecordedRequest[] {
    return this.requests.filter((r) => r.method === 'POST');
  }

  async close(): Promise<void> {
    this.release();
    await this.server.close();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    void readBody(req).then((body) => {
      const url = req.url ?? '/';
      const apiKey = req.headers['x-api-key'] as string | undefined;
      this.requests.push({ method: req.method ?? 'GET', url, apiKey, body });
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
      };
      if (url === '/health') {
        if (this.health === 'hang') return;
        if (this.health === 'trickle') return trickle(res);
        if (this.health && 'streamBytes' in this.health) return stream(res, this.health.status, this.health.streamBytes);
        if (this.health) return send(this.health.status, this.health.body);
        const connected = this.sessions.filter((s) => (s as WorkerSession).status === 'connected').length;
        return send(200, { status: 'ok', uptime: 1390, sessions: { total: this.sessions.length, connected, by_status: {} }, memory: {}, version: 'test' });
      }
      if (apiKey !== API_KEY) return send(401, { error: { code: 'unauthorized', message: 'bad key' } });
      if (req.method === 'GET' && url.startsWith('/api/sessions')) {
        for (const notify of this.arrived.splice(0)) notify();
        const answer = () => send(200, this.sessionsBody ?? { sessions: this.sessions });
        if (this.stallSessions) this.stalled.push(answer);
        else answer();
        return;
      }
      if (req.method === 'POST' && url === '/api/sessions') {
        const { session_id } = JSON.parse(body) as { session_id: string };
        if (this.drop.has(session_id)) return void req.socket.destroy();
        const answer = this.answers.get(session_id) ?? { status: 201, body: { session_id, status: 'initializing' } };
        return send(answer.status, answer.body);
      }
      const reconnect = /^\/api\/sessions\/([^/]+)\/reconnect$/.exec(url);
      if (req.method === 'POST' && reconnect) {
        if (this.drop.has(decodeURIComponent(reconnect[1]))) return void req.socket.destroy();
        const answer = this.answers.get(decodeURIComponent(reconnect[1])) ?? { status: 202, body: { status: 'reconnecting' } };
        return send(answer.status, answer.body);
      }
      send(404, { error: { code: 'NOT_FOUND', message: url } });
    });
  }
}

/** `200`, then one byte of a JSON body every 100 ms until the client goes away. */
function trickle(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{');
  const timer = setInterval(() => res.write(' '), 100);
  res.on('close', () => clearInterval(timer));
}

/** `status` with `bytes` of body in chunks of 64 KiB, written as fast as the client reads them (chunked: no length announced). */
function stream(res: http.ServerResponse, status: number, bytes: number): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let left = bytes;
  const pump = () => {
    while (left > 0 && !res.destroyed) {
      left -= chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

export async function readAuditLines(file: string): Promise<Record<string, unknown>[]> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** One integration test file's world: a fresh database, a worker stand-in, a temp folder, and the CLI's environment for them. */
export interface SyncWorld {
  db: TestDatabase;
  worker: WorkerStandIn;
  dir: string;
  auditLog: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startSyncWorld(
  prefix: string,
  options: { migrate: boolean; auditLog?: string; env?: Record<string, string> },
): Promise<SyncWorld> {
  const [db, worker, dir] = await Promise.all([createTestDatabase(), WorkerStandIn.start(), tempDir(prefix)]);
  const auditLog = path.join(dir, options.auditLog ?? 'audit.log');
  const env = {
    DATABASE_URL: db.url,
    WHATSAPP_NODE_SERVICE_URL: worker.url,
    WHATSAPP_NODE_API_KEY: API_KEY,
    WA_SYNC_AUDIT_LOG: auditLog,
    ...options.env,
  };
  if (options.migrate) {
    const migrated = await runCli(['migrate'], env);
    if (migrated.code !== 0) throw new Error(`wa-sync migrate failed: ${migrated.stderr}`);
  }
  return {
    db,
    worker,
    dir,
    auditLog,
    env,
    close: async () => {
      await Promise.all([db.drop(), worker.close(), fs.rm(dir, { recursive: true, force: true })]);
    },
  };
}
