import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { HealthResponse, WorkerSession } from '@wa-session-sync/shared';
import { cleanEnv, spawnProcess, type ProcessUser, type RunningProcess, type SpawnOptions } from './processes';

/** The built worker: what operators run (`npx tsc -b` first). Same path from src/ and dist/. */
export const WORKER_BIN = path.resolve(__dirname, '..', '..', 'worker', 'dist', 'main.js');

/** The line the worker logs once it listens; it names the port (ephemeral with `PORT=0`). */
const LISTENING = /"message":"wa-worker listening"[^\n]*"port":(\d+)|"port":(\d+)[^\n]*"message":"wa-worker listening"/;

export interface WorkerOptions {
  /** `WHATSAPP_NODE_API_KEY` (random by default). */
  apiKey?: string;
  /** On top of the base environment, `PORT=0` and the key. */
  env?: Record<string, string>;
  /** The environment to start from ({@link cleanEnv}). */
  baseEnv?: NodeJS.ProcessEnv;
  /** Write the worker's output straight into this file (see {@link SpawnOptions.logFile}). */
  logFile?: string;
  /** Aborting it stops the worker, even while it is starting. */
  signal?: AbortSignal;
  /** How long it may take to listen (30 s). */
  listenTimeoutMs?: number;
  /** The worker's working directory (this process's by default). */
  cwd?: string;
  /** Run it as this user (see {@link unprivilegedUser}). */
  user?: ProcessUser;
}

export interface ApiAnswer<T = any> {
  status: number;
  /** The parsed JSON body; null when there was none. */
  json: T;
}

/** The built worker as a child process, listening. */
export interface WorkerProcess extends RunningProcess {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  apiKey: string;
  /** `performance.now()` just before the spawn, and when it logged that it listens. */
  spawnedAt: number;
  listeningAt: number;
  /** One request to the worker, with `X-API-Key` unless `headers` are given. */
  api<T = any>(method: string, route: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer<T>>;
  health(): Promise<HealthResponse>;
  sessions(): Promise<WorkerSession[]>;
  /** The session, or undefined when the worker does not know it (404). */
  session(id: string): Promise<WorkerSession | undefined>;
}

/** Starts `dist/main.js` and resolves once it listens; rejects with its output if it exits first or does not listen in time. */
export async function startWorker(options: WorkerOptions = {}): Promise<WorkerProcess> {
  const apiKey = options.apiKey ?? randomBytes(24).toString('hex');
  const spawnedAt = performance.now();
  const proc = spawnProcess(process.execPath, [WORKER_BIN], {
    env: { ...(options.baseEnv ?? cleanEnv()), PORT: '0', WHATSAPP_NODE_API_KEY: apiKey, ...options.env },
    logFile: options.logFile,
    signal: options.signal,
    cwd: options.cwd,
    user: options.user,
  });
  let listening: RegExpExecArray;
  try {
    listening = await proc.outputMatching(LISTENING, options.listenTimeoutMs ?? 30_000);
  } catch (error) {
    await proc.kill('SIGKILL'); // never leave one that did not come up
    throw error;
  }
  const listeningAt = performance.now();
  const port = Number(listening[1] ?? listening[2]);
  const url = `http://127.0.0.1:${port}`;

  const api = async <T>(method: string, route: string, body?: unknown, headers: Record<string, string> = { 'x-api-key': apiKey }) => {
    const response = await fetch(url + route, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: (text ? JSON.parse(text) : null) as T };
  };
  return {
    ...proc,
    url,
    port,
    apiKey,
    spawnedAt,
    listeningAt,
    api,
    health: async () => (await api<HealthResponse>('GET', '/health', undefined, {})).json,
    sessions: async () => (await api<{ sessions: WorkerSession[] }>('GET', '/api/sessions')).json.sessions,
    session: async (id) => {
      const answer = await api<WorkerSession>('GET', `/api/sessions/${encodeURIComponent(id)}`);
      return answer.status === 200 ? answer.json : undefined;
    },
  };
}

/** What a worker needs to run its sessions against a simulated WhatsApp Web. */
export interface SimulatedWorkerOptions {
  sessionsDir: string;
  logDir: string;
  /** Chromium arguments on top of the simulator's (to try flags). */
  extraChromiumArgs?: readonly string[];
}

/**
 * The worker's environment for a simulator: its sessions and logs folders, the simulator's
 * Chromium arguments (which send web.whatsapp.com to it), and no web-version cache.
 */
export function simulatedWorkerEnv(simulator: { chromiumArgs(): string[] }, options: SimulatedWorkerOptions): Record<string, string> {
  return {
    WHATSAPP_SESSIONS_DIR: options.sessionsDir,
    LOG_DIR: options.logDir,
    WHATSAPP_WEBJS_BROWSER_ARGS: JSON.stringify([...simulator.chromiumArgs(), ...(options.extraChromiumArgs ?? [])]),
    WHATSAPP_WEBJS_WEB_VERSION_CACHE: 'none',
  };
}
