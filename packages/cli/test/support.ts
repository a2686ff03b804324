import fs from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import type { Client } from 'pg';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  ErrorResponseSchema,
  HealthResponseSchema,
  SessionsListResponseSchema,
  WorkerSessionSchema,
  type CreateSessionRequest,
  type ErrorResponse,
  type HealthResponse,
  type WorkerSession,
} from '@wa-session-sync/shared';
import {
  CLI_BIN,
  createTestDatabase as createDatabase,
  readBody,
  startLocalServer,
  tempDir,
  waitFor,
  cleanEnv,
  runCli as runCliProcess,
  startCli as startCliProcess,
  type CliOptions,
  type CliResult,
  type ProcessResult,
  type RunningProcess,
  type LocalServer,
  type TestDatabase,
} from '@wa-session-sync/test-support';
import { runCli as runCliWith } from '../src/cli';

export { tempDir, type CliResult, type TestDatabase } from '@wa-session-sync/test-support';

/** How long a test lets one run of the CLI take before it fails naming the run (below jest's 30 s per test). */
export const RUN_BOUND_MS = 20_000;

/**
 * `promise`'s outcome, waited for with `waitFor` so that the wait is bounded and named: a run
 * that never ends fails the test with "timed out after N ms waiting for <what>", not jest's
 * anonymous test timeout.
 */
export async function ended<T>(promise: Promise<T>, what: string, timeoutMs = RUN_BOUND_MS): Promise<T> {
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  promise.then(
    (value) => (outcome = { ok: true, value }),
    (error: unknown) => (outcome = { ok: false, error }),
  );
  const settled = await waitFor(() => outcome, what, { timeoutMs, intervalMs: 10 });
  if (!settled.ok) throw settled.error;
  return settled.value;
}

/** The built CLI as a process (`node bin/wa-sync.js <args>`), its `done` bounded and named (see {@link ended}). */
export function startCli(args: readonly string[], env: Record<string, string | undefined>, options: CliOptions = {}): RunningProcess {
  const running = startCliProcess(args, env, options);
  const done = running.done;
  let bounded: Promise<ProcessResult> | undefined;
  // Bounded when awaited, so that a run a test never awaits leaves no timer behind.
  Object.defineProperty(running, 'done', { get: () => (bounded ??= ended(done, `the wa-sync process (${args.join(' ')}) to end`)) });
  return running;
}

/** The built CLI as a process, run to its end (bounded and named, see {@link ended}). */
export function runCli(args: readonly string[], env: Record<string, string | undefined>, options: CliOptions = {}): Promise<CliResult> {
  return ended(runCliProcess(args, env, options), `the wa-sync process (${args.join(' ')}) to end`);
}

/** A run of `wa-sync` inside the test's process (see {@link startInProcess}). */
export interface InProcessRun {
  /** The run's result; bounded and named when awaited (see {@link ended}). */
  readonly done: Promise<CliResult>;
}

/**
 * Runs `wa-sync <args>` inside this process through `runCli(argv, io)` (the CLI's injected
 * streams and environment, the same entry `bin.ts` calls), with the environment a spawned CLI
 * would get (`cleanEnv()` under `env`). For everything about what the CLI decides and writes;
 * what is about the process itself (the bin and its bundles, signals, exit codes as the shell
 * sees them, users, memory) runs the built CLI with `runCli`/`startCli`.
 */
export function startInProcess(args: readonly string[], env: Record<string, string | undefined>): InProcessRun {
  let stdout = '';
  let stderr = '';
  const io = {
    env: { ...cleanEnv(), ...env },
    stdout: { write: (text: string) => (stdout += text), isTTY: false },
    stderr: { write: (text: string) => (stderr += text) },
  };
  const run = runCliWith([...args], io).then((code): CliResult => {
    const result: CliResult = { code, signal: null, stdout, stderr };
    if (args.includes('--json')) {
      try {
        result.json = JSON.parse(stdout);
      } catch {
        // not JSON (an error line): the test looks at stdout and stderr
      }
    }
    return result;
  });
  let bounded: Promise<CliResult> | undefined;
  // Bounded when awaited, so that a run a test never awaits leaves no timer behind.
  return {
    get done() {
      return (bounded ??= ended(run, `wa-sync ${args.join(' ')} (in this process) to end`));
    },
  };
}

/** {@link startInProcess} to its end. */
export function runInProcess(args: readonly string[], env: Record<string, string | undefined>): Promise<CliResult> {
  return startInProcess(args, env).done;
}

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
 * An answer the stand-in sends as it is, unchecked: for the tests of answers off the worker's
 * contract (malformed JSON, a missing field, an unknown code). A string is sent raw; any other
 * value as JSON (inside a session list: as one entry).
 */
export class OffContract {
  constructor(readonly value: unknown) {}
}

/** Marks `value` as deliberately off the worker's contract (see {@link OffContract}). */
export function offContract(value: unknown): OffContract {
  return new OffContract(value);
}

/** An answer of the stand-in: a status and its body, checked against the shared schema of that route and status. */
export interface Answer<T> {
  status: number;
  body: T | OffContract;
}

/** How `/health` answers: a health report or an error (checked), `'hang'`, `'trickle'`, or a streamed body. */
export type HealthBehaviour =
  | Answer<HealthResponse | ErrorResponse>
  | { status: number; streamBytes: number }
  | 'hang'
  | 'trickle'
  | null;

// The stand-in's answers are checked against the schemas the worker serializes with, so that it
// cannot drift from the worker: a test that sets an off-contract answer without `offContract()`
// fails where it sets it (and an off-contract answer the stand-in builds itself fails the file).
const contract = {
  health: TypeCompiler.Compile(HealthResponseSchema),
  session: TypeCompiler.Compile(WorkerSessionSchema),
  list: TypeCompiler.Compile(SessionsListResponseSchema),
  error: TypeCompiler.Compile(ErrorResponseSchema),
};
type Checker = (typeof contract)[keyof typeof contract];

/** The body as it goes on the wire, after checking it with `checker` unless it is {@link OffContract}. */
function onContract(what: string, checker: Checker, body: unknown): string {
  if (body instanceof OffContract) return typeof body.value === 'string' ? body.value : JSON.stringify(body.value);
  if (!checker.Check(body)) {
    const problems = [...checker.Errors(body)].slice(0, 3).map((e) => `${e.path || '/'} ${e.message}`);
    throw new Error(`the worker stand-in's ${what} is off the worker's contract (${problems.join('; ')}): ${JSON.stringify(body)}; wrap it in offContract() if that is the point of the test`);
  }
  return JSON.stringify(body);
}

/** The checker for an answer of `status` whose success body is `success`. */
function checkerFor(status: number, success: Checker): Checker {
  return status >= 200 && status < 300 ? success : contract.error;
}

/** A session as the worker reports it: `fields` over a connected session of workspace 1 without a number. */
export function workerSession(fields: Partial<WorkerSession> & { session_id: string }): WorkerSession {
  return { workspace_id: '1', status: 'connected', phone_number: null, updated_at: '2026-01-01T00:00:00.000Z', ...fields };
}

/** A stand-in as one worker of a fleet: the id and cap its `/health` reports. */
export interface FleetIdentity {
  workerId: string;
  /** `null`: no cap. */
  max: number | null;
}

/** What the stand-in's `/health` reports by default, for `sessions`. */
function healthReport(sessions: (WorkerSession | OffContract)[], fleet?: FleetIdentity): HealthResponse {
  const known = sessions.filter((s): s is WorkerSession => !(s instanceof OffContract));
  return {
    status: 'ok',
    uptime: 1390,
    sessions: { total: sessions.length, connected: known.filter((s) => s.status === 'connected').length, by_status: {} },
    memory: { rss: 1, heapUsed: 1, heapTotal: 1, external: 1 },
    version: 'test',
    // One worker of a fleet names itself and its cap.
    ...(fleet ? { worker_id: fleet.workerId } : {}),
    capacity: { max: fleet ? fleet.max : null, used: sessions.length },
  };
}

/**
 * An HTTP stand-in for the worker (node:http on an ephemeral port). Tests set what it reports and
 * how it answers, and read the requests it received. Every answer is checked against the shared
 * schemas (`WorkerSession`, `HealthResponse`, `ErrorResponse`) unless marked {@link offContract}.
 */
export class WorkerStandIn {
  private reported: (WorkerSession | OffContract)[] = [];
  private healthBehaviour: HealthBehaviour = null;
  private sessionsAnswer: OffContract | null = null;
  private answers = new Map<string, Answer<WorkerSession | ErrorResponse>>();
  /** Off-contract answers the stand-in built itself (a bug in the stand-in): `reset()` and `close()` throw them. */
  private violations: string[] = [];
  /** Session ids whose start/reconnect requests are recorded, then their connection destroyed without an answer. */
  drop = new Set<string>();
  requests: RecordedRequest[] = [];
  private stalled: (() => void)[] = [];
  private stallSessions = false;
  /**
   * Set: the stand-in is one worker of a fleet. `/health` names it and its cap, and it behaves
   * as a worker does with its sessions: a start adds the session (`connected` at once, or as
   * `startStatus` says), a stop (`DELETE`) removes it, `GET /api/sessions/:id` shows it.
   */
  readonly fleet: FleetIdentity | undefined;
  /** The status a started session has (fleet stand-ins): `connected` unless set. */
  startStatus: WorkerSession['status'] = 'connected';
  /** While true, every connection is closed unanswered: a worker that is down. */
  down = false;

  private constructor(
    private readonly server: LocalServer,
    fleet?: FleetIdentity,
  ) {
    this.fleet = fleet;
  }

  static async start(fleet?: FleetIdentity): Promise<WorkerStandIn> {
    let standIn: WorkerStandIn | undefined;
    const server = await startLocalServer((req, res) => standIn!.handle(req, res));
    standIn = new WorkerStandIn(server, fleet);
    return standIn;
  }

  /** The ids of the sessions it lists now. */
  sessionIds(): string[] {
    return this.reported.flatMap((s) => (s instanceof OffContract ? [] : [s.session_id])).sort();
  }

  get url(): string {
    return this.server.url;
  }

  /** The sessions `GET /api/sessions` lists: each filled by {@link workerSession} and checked, or deliberately {@link offContract}. */
  report(...sessions: ((Partial<WorkerSession> & { session_id: string }) | OffContract)[]): void {
    this.reported = sessions.map((s) => {
      if (s instanceof OffContract) return s;
      const session = workerSession(s);
      onContract(`session ${JSON.stringify(s.session_id)}`, contract.session, session);
      return session;
    });
  }

  /**
   * `'hang'`: /health never answers; `'trickle'`: it answers 200 and then one byte every 100 ms,
   * forever; `{ status, streamBytes }`: that status and a body of that many bytes, written as the
   * client reads (never held by the stand-in); `{ status, body }`: that answer (checked).
   */
  set health(behaviour: HealthBehaviour) {
    if (behaviour && typeof behaviour === 'object' && 'body' in behaviour) {
      onContract(`/health answer ${behaviour.status}`, checkerFor(behaviour.status, contract.health), behaviour.body);
    }
    this.healthBehaviour = behaviour;
  }

  get health(): HealthBehaviour {
    return this.healthBehaviour;
  }

  /** When set, the raw body `GET /api/sessions` answers (200) instead of the list: only off-contract bodies. */
  set sessionsBody(body: OffContract | null) {
    this.sessionsAnswer = body;
  }

  /** The answer to `session_id`'s start or reconnect request: a session view (2xx) or an error answer (checked). */
  answer(session_id: string, answer: Answer<WorkerSession | ErrorResponse>): void {
    onContract(`answer for ${session_id}`, checkerFor(answer.status, contract.session), answer.body);
    this.answers.set(session_id, answer);
  }

  reset(): void {
    const violations = this.violations.splice(0);
    this.reported = [];
    this.healthBehaviour = null;
    this.sessionsAnswer = null;
    this.answers.clear();
    this.drop.clear();
    this.requests = [];
    this.stallSessions = false;
    if (violations.length > 0) throw new Error(violations.join('\n'));
  }

  /** From now on `GET /api/sessions` waits until `release()`. */
  stall(): void {
    this.stallSessions = true;
  }

  release(): void {
    this.stallSessions = false;
    for (const resume of this.stalled.splice(0)) resume();
  }

  /** Resolves once a `GET /api/sessions` has arrived (the run is inside the lock then); fails, naming it, after `timeoutMs`. */
  sessionsRequested(timeoutMs = 15_000): Promise<true> {
    return waitFor(
      () => this.requests.some((r) => r.method === 'GET' && r.url.startsWith('/api/sessions')),
      `the run's GET /api/sessions to reach the worker stand-in at ${this.url}`,
      { timeoutMs, intervalMs: 10 },
    );
  }

  posts(): RecordedRequest[] {
    return this.requests.filter((r) => r.method === 'POST');
  }

  async close(): Promise<void> {
    this.release();
    await this.server.close();
    if (this.violations.length > 0) throw new Error(this.violations.join('\n'));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.down) return void req.socket.destroy();
    void readBody(req).then((body) => {
      const url = req.url ?? '/';
      const apiKey = req.headers['x-api-key'] as string | undefined;
      this.requests.push({ method: req.method ?? 'GET', url, apiKey, body });
      const send = (what: string, status: number, success: Checker, payload: unknown) => {
        let text: string;
        try {
          text = onContract(what, checkerFor(status, success), payload);
        } catch (error) {
          // The stand-in built an off-contract answer itself: answer 500, and fail the file at reset() or close().
          this.violations.push((error as Error).message);
          status = 500;
          text = JSON.stringify({ error: { code: 'internal_error', message: 'the worker stand-in is off contract' } });
        }
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(text);
      };
      const health = this.healthBehaviour;
      if (url === '/health') {
        if (health === 'hang') return;
        if (health === 'trickle') return trickle(res);
        if (health && 'streamBytes' in health) return stream(res, health.status, health.streamBytes);
        if (health) return send('/health answer', health.status, contract.health, health.body);
        return send('/health answer', 200, contract.health, healthReport(this.reported, this.fleet));
      }
      if (apiKey !== API_KEY) return send('401 answer', 401, contract.error, { error: { code: 'unauthorized', message: 'bad key' } });
      if (req.method === 'GET' && (url === '/api/sessions' || url.startsWith('/api/sessions?'))) {
        const list = { sessions: this.reported.map((s) => (s instanceof OffContract ? s.value : s)) };
        // A list with an off-contract entry is off contract as a whole, by the test's choice.
        const listed = this.reported.some((s) => s instanceof OffContract) ? offContract(list) : list;
        const answer = () => send('session list', 200, contract.list, this.sessionsAnswer ?? listed);
        if (this.stallSessions) this.stalled.push(answer);
        else answer();
        return;
      }
      if (req.method === 'POST' && url === '/api/sessions') {
        const { session_id, workspace_id } = JSON.parse(body) as CreateSessionRequest;
        if (this.drop.has(session_id)) return void req.socket.destroy();
        const set = this.answers.get(session_id);
        if (this.fleet && !set) {
          const live = this.reported.find((s): s is WorkerSession => !(s instanceof OffContract) && s.session_id === session_id);
          if (live) return send(`start answer for ${session_id}`, 200, contract.session, live);
          if (this.fleet.max !== null && this.reported.length >= this.fleet.max) {
            return send('503 answer', 503, contract.error, { error: { code: 'capacity_exhausted', message: 'full' } });
          }
          const started = workerSession({ session_id, workspace_id, status: this.startStatus });
          this.reported.push(started);
          return send(`start answer for ${session_id}`, 201, contract.session, started);
        }
        const answer = set ?? { status: 201, body: workerSession({ session_id, workspace_id, status: 'initializing' }) };
        return send(`start answer for ${session_id}`, answer.status, contract.session, answer.body);
      }
      const reconnect = /^\/api\/sessions\/([^/]+)\/reconnect$/.exec(url);
      if (req.method === 'POST' && reconnect) {
        const session_id = decodeURIComponent(reconnect[1]);
        if (this.drop.has(session_id)) return void req.socket.destroy();
        const known = this.reported.find((s): s is WorkerSession => !(s instanceof OffContract) && s.session_id === session_id);
        const answer = this.answers.get(session_id) ?? { status: 202, body: workerSession({ ...known, session_id, status: 'reconnecting' }) };
        return send(`reconnect answer for ${session_id}`, answer.status, contract.session, answer.body);
      }
      const one = /^\/api\/sessions\/([^/?]+)$/.exec(url);
      if (this.fleet && one && (req.method === 'GET' || req.method === 'DELETE')) {
        const session_id = decodeURIComponent(one[1]);
        const at = this.reported.findIndex((s) => !(s instanceof OffContract) && s.session_id === session_id);
        if (at === -1) return send('404 answer', 404, contract.error, { error: { code: 'session_not_found', message: `${session_id} not found` } });
        const session = this.reported[at] as WorkerSession;
        if (req.method === 'GET') return send(`session ${session_id}`, 200, contract.session, session);
        this.reported.splice(at, 1);
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ session_id, stopped: true, logged_out: false }));
      }
      send('404 answer', 404, contract.error, { error: { code: 'not_found', message: `${req.method} ${url} not found` } });
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
    const migrated = await runInProcess(['migrate'], env);
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
