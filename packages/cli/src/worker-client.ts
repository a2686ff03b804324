import { Agent, request } from 'undici';
import pLimit from 'p-limit';
import {
  isSessionStatus,
  isValidId,
  type HealthResponse,
  type SessionStatus,
  type WorkerSession,
} from '@wa-session-sync/shared';
import { WorkerResponseError, WorkerUnavailableError } from './errors';
import type { InvalidWorkerSession, RequestOutcome, WorkerSnapshot } from './sync/model';

export interface WorkerClientOptions {
  /** Base URL without a trailing slash; never carries the key. */
  baseUrl: string;
  apiKey: string | undefined;
  /** Per request: connect, headers and body each. */
  timeoutMs: number;
  /** `start`/`reconnect` requests in flight at once. */
  concurrency: number;
}

/** The health line's facts. */
export interface WorkerHealth {
  uptime: number;
  total: number;
  connected: number;
}

export type SessionRequest = { kind: 'start' | 'reconnect'; session_id: string; workspace_id: string };

/** The worker's HTTP API as the sync uses it (undici, keep-alive, bounded concurrency). */
export class WorkerClient {
  private readonly dispatcher: Agent;

  constructor(private readonly options: WorkerClientOptions) {
    this.dispatcher = new Agent({
      connections: Math.max(2, options.concurrency),
      connectTimeout: options.timeoutMs,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  get url(): string {
    return this.options.baseUrl;
  }

  /** `GET /health`; anything but a 2xx JSON health object is a `WorkerUnavailableError`. */
  async health(): Promise<WorkerHealth> {
    const where = `${this.options.baseUrl}/health`;
    const body = await this.getJson(where, false, WorkerUnavailableError, 'the worker is not healthy');
    const health = body as Partial<HealthResponse> | null;
    const uptime = health?.uptime;
    const sessions = health?.sessions;
    if (
      !health ||
      typeof health !== 'object' ||
      typeof uptime !== 'number' ||
      !sessions ||
      typeof sessions.total !== 'number' ||
      typeof sessions.connected !== 'number'
    ) {
      throw new WorkerUnavailableError(`the worker is not healthy: ${where} answered JSON without uptime and session counts`);
    }
    return { uptime, total: sessions.total, connected: sessions.connected };
  }

  /** `GET /api/sessions[?workspace_id=]`, validated entry by entry. */
  async sessions(workspaceId: string | undefined): Promise<WorkerSnapshot> {
    const query = workspaceId === undefined ? '' : `?workspace_id=${encodeURIComponent(workspaceId)}`;
    const where = `${this.options.baseUrl}/api/sessions${query}`;
    const body = (await this.getJson(where, true, WorkerResponseError, 'cannot read the worker sessions')) as {
      sessions?: unknown;
    } | null;
    if (!body || typeof body !== 'object' || !Array.isArray(body.sessions)) {
      throw new WorkerResponseError(`cannot read the worker sessions: ${where} answered JSON without a sessions list`);
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

  async send(req: SessionRequest): Promise<RequestOutcome> {
    const path =
      req.kind === 'start' ? '/api/sessions' : `/api/sessions/${encodeURIComponent(req.session_id)}/reconnect`;
    const body = req.kind === 'start' ? JSON.stringify({ session_id: req.session_id, workspace_id: req.workspace_id }) : '{}';
    try {
      const response = await this.call(`${this.options.baseUrl}${path}`, {
        method: 'POST',
        headers: { ...this.authHeaders(), 'content-type': 'application/json' },
        body,
        dispatcher: this.dispatcher,
      });
      const text = await response.body.text();
      if (response.statusCode < 200 || response.statusCode >= 300) {
        return { ok: false, error: `HTTP ${response.statusCode}${errorCode(text)}` };
      }
      return { ok: true, status: reportedStatus(text) };
    } catch (error) {
      return { ok: false, error: describeNetworkError(error) };
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /**
   * One request, retried once on a fresh connection when a kept-alive socket turns out closed.
   * The worker closes idle connections after its keep-alive timeout; a request written to such a
   * socket as it closes fails (UND_ERR_SOCKET, ECONNRESET, EPIPE) before the worker read it, which
   * happens when the database part of a run takes longer than that timeout. Every request the sync
   * makes is idempotent (a start of a live session answers 200), so one retry is safe.
   */
  private async call(url: string, options: Parameters<typeof request>[1]): ReturnType<typeof request> {
    try {
      return await request(url, options);
    } catch (error) {
      if (!isClosedSocket(error)) throw error;
      return request(url, options);
    }
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
    let statusCode: number;
    let text: string;
    try {
      const response = await this.call(where, {
        method: 'GET',
        headers: { accept: 'application/json', ...(auth ? this.authHeaders() : {}) },
        dispatcher: this.dispatcher,
      });
      statusCode = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      throw new ErrorClass(`${what}: ${where} ${describeNetworkError(error)}`, { cause: error });
    }
    if (statusCode < 200 || statusCode >= 300) {
      const hint = statusCode === 401 || statusCode === 403 ? '; check WHATSAPP_NODE_API_KEY' : '';
      throw new ErrorClass(`${what}: ${where} answered HTTP ${statusCode}${errorCode(text)}${hint}`);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new ErrorClass(`${what}: ${where} answered malformed JSON`);
    }
  }
}

function isClosedSocket(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
}

/**
 * Splits the worker's list into usable sessions and garbage. An entry without a valid id,
 * with a status outside the vocabulary, listed twice or (with a workspace filter) of another
 * workspace is reported and never used.
 */
export function validateSessions(entries: unknown[], workspaceId: string | undefined): WorkerSnapshot {
  const sessions: WorkerSession[] = [];
  const invalid: InvalidWorkerSession[] = [];
  const seen = new Map<string, WorkerSession>();
  for (const entry of entries) {
    const raw = (entry && typeof entry === 'object' ? entry : {}) as Record<string, unknown>;
    const problem = entryProblem(raw);
    if (problem) {
      invalid.push({ session_id: isValidId(raw.session_id) ? raw.session_id : null, reason: problem });
      continue;
    }
    const id = raw.session_id as string;
    if (workspaceId !== undefined && raw.workspace_id !== workspaceId) continue;
    if (seen.has(id)) {
      invalid.push({ session_id: id, reason: 'listed more than once' });
      continue;
    }
    // Normalised in place: the parsed answer is ours, and copying 10,000 entries costs.
    raw.phone_number = typeof raw.phone_number === 'string' && raw.phone_number !== '' ? raw.phone_number : null;
    raw.reason = typeof raw.reason === 'string' ? raw.reason : null;
    const session = raw as WorkerSession;
    seen.set(id, session);
    sessions.push(session);
  }
  // A duplicated id is garbage as a whole: neither copy is trusted.
  const duplicated = new Set(invalid.filter((e) => e.reason === 'listed more than once').map((e) => e.session_id));
  return { sessions: sessions.filter((s) => !duplicated.has(s.session_id)), invalid };
}

function entryProblem(raw: Record<string, unknown>): string | null {
  if (!isValidId(raw.session_id)) return `invalid session_id ${short(raw.session_id)}`;
  if (!isSessionStatus(raw.status)) return `unknown status ${short(raw.status)}`;
  if (!isValidId(raw.workspace_id)) return `invalid workspace_id ${short(raw.workspace_id)}`;
  return null;
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

function errorCode(text: string): string {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } })?.error?.code;
    return typeof code === 'string' ? ` (${code.slice(0, 60)})` : '';
  } catch {
    return '';
  }
}

function describeNetworkError(error: unknown): string {
  const err = error as { code?: string; message?: string };
  if (err?.code === 'UND_ERR_HEADERS_TIMEOUT' || err?.code === 'UND_ERR_BODY_TIMEOUT' || err?.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return 'timed out';
  }
  if (err?.code === 'ECONNREFUSED') return 'refused the connection (is the worker running?)';
  return `failed: ${err?.code ?? err?.message ?? String(error)}`;
}
