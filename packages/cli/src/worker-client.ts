import http from 'node:http';
import type https from 'node:https';
import pLimit from 'p-limit';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  HealthResponseSchema,
  isSessionStatus,
  isValidId,
  isValidPhoneNumber,
  PHONE_NUMBER_PATTERN_SOURCE,
  WorkerSessionSchema,
  type SessionStatus,
  type WorkerSession,
} from '@wa-session-sync/shared';
import { WorkerResponseError, WorkerUnavailableError } from './errors';
import { SessionListReader, type SessionListEnd } from './session-list';
import type { InvalidWorkerSession, InvalidWorkerValue, RequestOutcome, WorkerSnapshot } from './sync/model';

export interface WorkerClientOptions {
  /** Base URL without a trailing slash; never carries the key. */
  baseUrl: string;
  apiKey: string | undefined;
  /** Per request: the longest one exchange may take as a whole, from connecting to the answer's last byte. */
  timeoutMs: number;
  /**
   * The run's deadline (`Date.now()` milliseconds): no request is sent after it, and one in flight
   * is cut at it. Unset: only `timeoutMs` bounds a request.
   */
  deadline?: number;
  /** The largest `GET /api/sessions` answer read; `MAX_SESSION_LIST_BYTES` unless set (tests set less). */
  maxSessionListBytes?: number;
  /** `start`/`reconnect` requests in flight at once. */
  concurrency: number;
}

/** The health line's facts. */
export interface WorkerHealth {
  uptime: number;
  total: number;
  connected: number;
}

/** What placement needs of `/health` besides {@link WorkerHealth}: who the worker is and how much it takes. */
export interface WorkerIdentity {
  /** `WHATSAPP_WORKER_ID`; `null` from a worker older than the fleet (it sends none). */
  workerId: string | null;
  /** `max: null`: no cap. */
  capacity: { max: number | null; used: number };
}

/** A fleet request's answer: its HTTP status, the error code of an error answer, the session's status of a session answer. */
export interface SessionAnswer {
  statusCode: number;
  code: string | null;
  status: SessionStatus | null;
}

export type SessionRequest = { kind: 'start' | 'reconnect'; session_id: string; workspace_id: string };

// The worker's answers are checked with the shared schemas the worker itself answers by.

/** What the sync reads of `/health`: the uptime and the session counts, as the shared schema defines them. */
const healthFacts = TypeCompiler.Compile(
  Type.Object({
    uptime: HealthResponseSchema.properties.uptime,
    sessions: Type.Pick(HealthResponseSchema.properties.sessions, ['total', 'connected']),
  }),
);

/** The fleet's facts of `/health`, optional as far as the sync is concerned (a worker without them is placed as uncapped, by its URL). */
const identityFacts = TypeCompiler.Compile(
  Type.Object({
    worker_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    capacity: Type.Optional(HealthResponseSchema.properties.capacity),
  }),
);

const workerSession = TypeCompiler.Compile(WorkerSessionSchema);

/** A session entry's fields in the order their problems are reported: what names the entry first. */
const FIELD_ORDER: readonly string[] = [
  ...new Set(['session_id', 'status', 'workspace_id', ...Object.keys(WorkerSessionSchema.properties)]),
];

/** An answer read to its end. */
interface Answer {
  statusCode: number;
  text: string;
}

/**
 * The largest answer read from `/health` and from any error or start/reconnect answer: the worker's
 * own bound on request bodies. A bigger one is refused as it arrives (or at once, by its
 * `content-length`), never held: a 300 MB error body took the CLI to 968 MB before this bound.
 */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * The largest `GET /api/sessions` answer: what one worker can list, at most `MAX_LISTED_SESSIONS`
 * sessions of at most `MAX_SESSION_VIEW_BYTES` each (a view is ids of 100 characters, a phone of
 * 32, times, counters and, while `qr_scanning`, a QR of ~250 characters: under 1 KiB; twice that
 * leaves room for fields to come). The list is read piece by piece, so this bounds the time and
 * bytes a worker can make a run take, not memory held at once.
 */
export const MAX_LISTED_SESSIONS = 100_000;
export const MAX_SESSION_VIEW_BYTES = 2_048;
export const MAX_SESSION_LIST_BYTES = MAX_LISTED_SESSIONS * MAX_SESSION_VIEW_BYTES;

/** Takes an answer's bytes as they arrive. */
interface BodyReader {
  add(chunk: Buffer): void;
}

interface Call {
  method: 'GET' | 'POST' | 'DELETE';
  headers: Record<string, string>;
  body?: string;
  /**
   * Whether sending it twice does no harm. An idempotent request that fails because the kept-alive
   * connection it was written to had just been closed is sent again once, on a new connection; any
   * other request is never sent twice and never written to a kept-alive connection at all.
   */
  idempotent: boolean;
}

/** The exchange took longer than `timeoutMs` as a whole, or ran into the run's deadline. */
class RequestTimeoutError extends Error {
  readonly code = 'WA_SYNC_REQUEST_TIMEOUT';
}

/** The answer is bigger than the bound for its kind (`MAX_ANSWER_BYTES`, `MAX_SESSION_LIST_BYTES`). */
class AnswerTooLargeError extends Error {
  readonly code = 'WA_SYNC_ANSWER_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`answered more than ${formatBytes(limit)}`);
  }
}

/** The run's deadline passed before the request was sent: it never was. */
class RunDeadlineError extends Error {
  readonly code = 'WA_SYNC_RUN_DEADLINE';
}

/**
 * The worker's HTTP API as the sync uses it: node:http with a keep-alive agent, bounded concurrency,
 * each exchange bounded as a whole in time (`timeoutMs`, the run's `deadline`) and in bytes
 * (`MAX_ANSWER_BYTES`, `MAX_SESSION_LIST_BYTES`).
 *
 * Not undici or fetch: undici's `maxResponseSize` and an `AbortSignal` would give both bounds, but
 * loading it costs every start of the CLI ~60 ms even bundled and minified (733 KB; `require` of
 * it 181 ms against 120 ms for node:http, medians of 21 whole Node 20 processes; ~275 ms from
 * node_modules), half again what the CLI's whole start costs above `node -e 0`; node's own fetch
 * cost ~150 ms on its first call. The two bounds here are a timer and a byte count.
 */
export class WorkerClient {
  private readonly agent: http.Agent;

  constructor(private readonly options: WorkerClientOptions) {
    const secure = new URL(options.baseUrl).protocol === 'https:';
    const Agent = secure ? loadHttps().Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: Math.max(2, options.concurrency) });
  }

  get url(): string {
    return this.options.baseUrl;
  }

  /** `GET /health`; anything but a 2xx JSON health object is a `WorkerUnavailableError`. */
  async health(): Promise<WorkerHealth> {
    return (await this.healthWithIdentity()).health;
  }

  /** {@link health} with the worker's id and capacity, for placing sessions across a fleet. */
  async healthWithIdentity(): Promise<{ health: WorkerHealth; identity: WorkerIdentity }> {
    const where = `${this.options.baseUrl}/health`;
    const body = await this.getJson(where, false, WorkerUnavailableError, 'the worker is not healthy');
    if (!healthFacts.Check(body)) {
      throw new WorkerUnavailableError(`the worker is not healthy: ${where} answered JSON without uptime and session counts`);
    }
    const { uptime, sessions } = body;
    const facts: { worker_id?: string; capacity?: WorkerIdentity['capacity'] } = identityFacts.Check(body) ? body : {};
    return {
      health: { uptime, total: sessions.total, connected: sessions.connected },
      identity: {
        workerId: facts.worker_id ?? null,
        capacity: facts.capacity ?? { max: null, used: sessions.total },
      },
    };
  }

  /** `POST /api/sessions`: start (or find live) `session_id` on this worker. Network failures throw. */
  startSession(sessionId: string, workspaceId: string): Promise<SessionAnswer> {
    return this.sessionCall('POST', '/api/sessions', JSON.stringify({ session_id: sessionId, workspace_id: workspaceId }), true);
  }

  /** `DELETE /api/sessions/:id` without `logout`: the worker stops it with a final save and keeps its login. */
  stopSession(sessionId: string): Promise<SessionAnswer> {
    return this.sessionCall('DELETE', `/api/sessions/${encodeURIComponent(sessionId)}`, undefined, true);
  }

  /** `GET /api/sessions/:id`: its status now (`statusCode` 404: the worker does not have it). */
  getSession(sessionId: string): Promise<SessionAnswer> {
    return this.sessionCall('GET', `/api/sessions/${encodeURIComponent(sessionId)}`, undefined, true);
  }

  private async sessionCall(method: Call['method'], path: string, body: string | undefined, idempotent: boolean): Promise<SessionAnswer> {
    const answer = await this.call(`${this.options.baseUrl}${path}`, {
      method,
      headers: { ...this.authHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body,
      idempotent,
    });
    const code = errorCode(answer.text).replace(/^ \((.*)\)$/, '$1');
    return { statusCode: answer.statusCode, code: code === '' ? null : code, status: reportedStatus(answer.text) };
  }

  /**
   * `GET /api/sessions[?workspace_id=]`, validated entry by entry: read and validated piece by
   * piece as the answer arrives (`SessionListReader`), never held whole.
   */
  async sessions(workspaceId: string | undefined): Promise<WorkerSnapshot> {
    const query = workspaceId === undefined ? '' : `?workspace_id=${encodeURIComponent(workspaceId)}`;
    const where = `${this.options.baseUrl}/api/sessions${query}`;
    const what = 'cannot read the worker sessions';
    // Made afresh for each attempt (an answer cut off on a closing kept-alive connection is asked
    // again); a 2xx answer has always had one.
    let validator!: SessionValidator;
    let reader!: SessionListReader;
    await this.get(where, true, WorkerResponseError, what, () => {
      const entries = new SessionValidator(workspaceId);
      validator = entries;
      reader = new SessionListReader((piece) => entries.add(piece));
      return reader;
    });
    let end: SessionListEnd;
    try {
      end = reader.end();
    } catch {
      throw new WorkerResponseError(`${what}: ${where} answered malformed JSON`);
    }
    if (end.streamed) return validator.finish();
    const body = end.body as { sessions?: unknown } | null;
    if (!body || typeof body !== 'object' || !Array.isArray(body.sessions)) {
      throw new WorkerResponseError(`${what}: ${where} answered JSON without a sessions list`);
    }
    return validateSessions(body.sessions, workspaceId);
  }

  /**
   * Sends every start/reconnect request, at most `concurrency` at once. One failing request
   * never stops the others: each gets its own outcome.
   */
  async requestAll(requests: SessionRequest[]): Promise<RequestOutcome[]> {
    const limit = pLimit(this.options.concurrency);
    return Promise.all(requests.map((req) => limit(() => this.send(req))));
  }

  /**
   * `POST /api/sessions` (start) or `POST /api/sessions/:id/reconnect`. A start is idempotent (the
   * worker answers 200 for a live session), so it is sent again once when its kept-alive connection
   * turns out closed. A reconnect is not (the worker force-cleans the session and launches it
   * again), so it is never sent twice: it gets a connection of its own, and a connection reset
   * before the answer is reported as a failed reconnect (the next run decides again).
   */
  async send(req: SessionRequest): Promise<RequestOutcome> {
    const start = req.kind === 'start';
    const path = start ? '/api/sessions' : `/api/sessions/${encodeURIComponent(req.session_id)}/reconnect`;
    const body = start ? JSON.stringify({ session_id: req.session_id, workspace_id: req.workspace_id }) : '{}';
    try {
      const answer = await this.call(`${this.options.baseUrl}${path}`, {
        method: 'POST',
        headers: { ...this.authHeaders(), 'content-type': 'application/json' },
        body,
        idempotent: start,
      });
      if (answer.statusCode < 200 || answer.statusCode >= 300) {
        return { ok: false, error: `HTTP ${answer.statusCode}${errorCode(answer.text)}` };
      }
      return { ok: true, status: reportedStatus(answer.text) };
    } catch (error) {
      if (!start && isReset(error)) {
        return {
          ok: false,
          error: `the connection was reset before the worker answered (${(error as NodeJS.ErrnoException).code}); not sent again: a reconnect is not idempotent`,
        };
      }
      return { ok: false, error: describeNetworkError(error) };
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  /**
   * One request. An idempotent one is retried once, on a new connection, when the kept-alive
   * connection it was written to turns out closed (node's documented pattern: `reusedSocket` and
   * ECONNRESET). The worker closes idle connections after its keep-alive timeout (5 s), and node's
   * agent does not follow the worker's `Keep-Alive: timeout=5` hint, so a request sent as that
   * happens fails before the worker read it: e.g. when the database part of a run took longer.
   */
  private async call(url: string, call: Call, stream?: () => BodyReader): Promise<Answer> {
    if (!call.idempotent) return this.exchange(url, call, false, stream);
    try {
      return await this.exchange(url, call, this.agent, stream);
    } catch (error) {
      if (!isResetOnReuse(error)) throw error;
      return this.exchange(url, call, false, stream);
    }
  }

  /**
   * Sends one request on `agent` (`false`: a connection of its own) and reads the answer to its
   * end: as text, or, for a 2xx answer when `stream` is given, into the reader it makes (`text`
   * is then empty).
   */
  private exchange(url: string, call: Call, agent: http.Agent | false, stream?: () => BodyReader): Promise<Answer> {
    const target = new URL(url);
    const transport = target.protocol === 'https:' ? loadHttps() : http;
    const headers = call.body === undefined ? call.headers : { ...call.headers, 'content-length': String(Buffer.byteLength(call.body)) };
    const { timeoutMs, deadline } = this.options;
    // One timer for the whole exchange, not node's idle `timeout`: a worker trickling a byte a
    // second never goes idle, and kept a run alive for as long as it liked.
    const budget = deadline === undefined ? timeoutMs : Math.min(timeoutMs, deadline - Date.now());
    if (budget <= 0) return Promise.reject(new RunDeadlineError('the run deadline passed before it was sent'));
    return new Promise<Answer>((resolve, reject) => {
      // Settled with our own error first: once the answer has begun, node reports a destroyed
      // request as a cut-off answer before it hands on the error it was destroyed with.
      const abandon = (error: Error) => {
        reject(error);
        request.destroy(error);
      };
      const request = transport.request(target, { method: call.method, headers, agent }, (response) => {
        const statusCode = response.statusCode ?? 0;
        const reader = stream && statusCode >= 200 && statusCode < 300 ? stream() : null;
        const limit = reader ? (this.options.maxSessionListBytes ?? MAX_SESSION_LIST_BYTES) : MAX_ANSWER_BYTES;
        if (Number(response.headers['content-length']) > limit) return abandon(new AnswerTooLargeError(limit));
        const chunks: Buffer[] = [];
        let received = 0;
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > limit) return abandon(new AnswerTooLargeError(limit));
          if (!reader) return void chunks.push(chunk);
          try {
            reader.add(chunk);
          } catch (error) {
            abandon(error as Error);
          }
        });
        response.on('end', () => resolve({ statusCode, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
        // The connection dropped in the middle of the answer (whichever of these comes first settles).
        response.on('close', () => {
          if (!response.complete) reject(Object.assign(new Error('the answer was cut off'), { code: 'ECONNRESET' }));
        });
      });
      const timer = setTimeout(() => abandon(new RequestTimeoutError('timed out')), budget);
      request.on('close', () => clearTimeout(timer));
      request.on('error', (error: NodeJS.ErrnoException) => {
        if (request.reusedSocket) Object.assign(error, { reusedSocket: true });
        reject(error);
      });
      request.end(call.body);
    });
  }

  private authHeaders(): Record<string, string> {
    return this.options.apiKey ? { 'x-api-key': this.options.apiKey } : {};
  }

  private async getJson(
    where: string,
    auth: boolean,
    ErrorClass: typeof WorkerUnavailableError | typeof WorkerResponseError,
    what: string,
  ): Promise<unknown> {
    const { text } = await this.get(where, auth, ErrorClass, what);
    try {
      return JSON.parse(text);
    } catch {
      throw new ErrorClass(`${what}: ${where} answered malformed JSON`);
    }
  }

  /** A GET answered 2xx (its body read as text, or by `stream`'s reader); anything else throws `ErrorClass`. */
  private async get(
    where: string,
    auth: boolean,
    ErrorClass: typeof WorkerUnavailableError | typeof WorkerResponseError,
    what: string,
    stream?: () => BodyReader,
  ): Promise<Answer> {
    let answer: Answer;
    try {
      answer = await this.call(
        where,
        { method: 'GET', headers: { accept: 'application/json', ...(auth ? this.authHeaders() : {}) }, idempotent: true },
        stream,
      );
    } catch (error) {
      throw new ErrorClass(`${what}: ${where} ${describeNetworkError(error)}`, { cause: error });
    }
    const { statusCode, text } = answer;
    if (statusCode < 200 || statusCode >= 300) {
      const hint = statusCode === 401 || statusCode === 403 ? '; check WHATSAPP_NODE_API_KEY' : '';
      throw new ErrorClass(`${what}: ${where} answered HTTP ${statusCode}${errorCode(text)}${hint}`);
    }
    return answer;
  }
}

function formatBytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

/** node:https (and with it TLS) is loaded only for an https worker URL. */
function loadHttps(): typeof https {
  return require('node:https') as typeof https;
}

/** The connection was closed or reset under the request, before an answer. */
function isReset(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/** A reset of a kept-alive connection that an earlier request had used: the request never reached the worker's handler. */
function isResetOnReuse(error: unknown): boolean {
  return isReset(error) && (error as { reusedSocket?: boolean }).reusedSocket === true;
}

/**
 * Splits the worker's list into usable sessions and garbage, field by field:
 * - an entry whose `session_id`, `workspace_id` or `status` is unusable (no valid id, a status
 *   outside the vocabulary), that does not otherwise match the shared session schema, that is
 *   listed twice or (with a workspace filter) of another workspace is reported and never used;
 * - a `phone_number` that is not a phone number the column can hold (`PHONE_NUMBER_PATTERN`: an
 *   80-digit number, a number that is not a string...) is reported and treated as unknown (`null`):
 *   the entry is used, and the row keeps the number it has.
 */
export function validateSessions(entries: unknown[], workspaceId: string | undefined): WorkerSnapshot {
  const validator = new SessionValidator(workspaceId);
  validator.add(entries);
  return validator.finish();
}

/** {@link validateSessions} fed piece by piece, as the answer arrives (`SessionListReader`). */
export class SessionValidator {
  private readonly sessions: WorkerSession[] = [];
  private readonly invalid: InvalidWorkerSession[] = [];
  private readonly invalidValues: InvalidWorkerValue[] = [];
  /** Each usable session's place in `sessions`: finds the ids listed twice, and is the planner's index. */
  private readonly index = new Map<string, number>();

  constructor(private readonly workspaceId: string | undefined) {}

  add(entries: unknown[]): void {
    const { sessions, invalid, invalidValues, index, workspaceId } = this;
    for (const entry of entries) {
      const raw = (entry && typeof entry === 'object' && !Array.isArray(entry) ? entry : {}) as Record<string, unknown>;
      // Normalised in place: the parsed answer is ours, and copying 10,000 entries costs.
      const phone = raw.phone_number;
      const badPhone = phone !== null && phone !== '' && !isValidPhoneNumber(phone);
      if (phone === '' || badPhone) raw.phone_number = null;
      if (!workerSession.Check(raw)) {
        invalid.push({ session_id: isValidId(raw.session_id) ? raw.session_id : null, reason: entryProblem(raw) });
        continue;
      }
      const id = raw.session_id;
      if (workspaceId !== undefined && raw.workspace_id !== workspaceId) continue;
      if (index.has(id)) {
        invalid.push({ session_id: id, reason: 'listed more than once' });
        continue;
      }
      if (badPhone) {
        invalidValues.push({
          session_id: id,
          field: 'phone_number',
          value: short(phone),
          reason: `not a phone number (${PHONE_NUMBER_PATTERN_SOURCE}): treated as unknown`,
        });
      }
      raw.reason ??= null;
      index.set(id, sessions.length);
      sessions.push(raw);
    }
  }

  finish(): WorkerSnapshot {
    const { sessions, invalid, invalidValues, index } = this;
    // A duplicated id is garbage as a whole: neither copy is trusted.
    const duplicated = new Set(invalid.filter((e) => e.reason === 'listed more than once').map((e) => e.session_id));
    // At 100,000 sessions, handing the index on spares the planner a second one (~40 ms and a
    // hash table of 100,000 ids alive beside this one).
    if (duplicated.size === 0) return { sessions, invalid, invalidValues, index };
    return {
      sessions: sessions.filter((s) => !duplicated.has(s.session_id)),
      invalid,
      invalidValues: invalidValues.filter((v) => !duplicated.has(v.session_id)),
    };
  }
}

/** The first problem of an entry the schema refused, by `FIELD_ORDER`. */
function entryProblem(raw: Record<string, unknown>): string {
  const fields = new Set<string>();
  for (const error of workerSession.Errors(raw)) fields.add(error.path.split('/')[1] ?? '');
  const field = FIELD_ORDER.find((name) => fields.has(name));
  if (field === undefined) return 'does not match the session schema';
  return field === 'status' ? `unknown status ${short(raw.status)}` : `invalid ${field} ${short(raw[field])}`;
}

function short(value: unknown): string {
  const text = value === undefined ? 'missing' : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The status a start/reconnect answer reports (`{status}` or `{session:{status}}`), if any. */
function reportedStatus(text: string): SessionStatus | null {
  try {
    const body = JSON.parse(text) as { status?: unknown; session?: { status?: unknown } };
    const status = body?.session?.status ?? body?.status;
    return isSessionStatus(status) ? status : null;
  } catch {
    return null;
  }
}

/**
 * A readable error code (letters, digits, `_ . : -`) travels into the row's `last_reconnect_error`;
 * anything else the worker puts there (a NUL, a lone surrogate: text Postgres's jsonb refuses,
 * which would fail the run's one UPDATE) is left out.
 */
const ERROR_CODE = /^[A-Za-z0-9_.:-]+$/;

function errorCode(text: string): string {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } })?.error?.code;
    return typeof code === 'string' && ERROR_CODE.test(code) ? ` (${code.slice(0, 60)})` : '';
  } catch {
    return '';
  }
}

export function describeNetworkError(error: unknown): string {
  const err = error as { code?: string; message?: string };
  if (error instanceof RunDeadlineError) return 'was not sent: the run deadline (WA_SYNC_RUN_TIMEOUT_SECONDS) had passed';
  if (error instanceof AnswerTooLargeError) return `${error.message}; refused unread`;
  if (error instanceof RequestTimeoutError || err?.code === 'ETIMEDOUT') return 'timed out';
  if (err?.code === 'ECONNREFUSED') return 'refused the connection (is the worker running?)';
  return `failed: ${err?.code ?? err?.message ?? String(error)}`;
}
