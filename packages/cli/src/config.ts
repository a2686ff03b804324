import path from 'node:path';
// The id pattern alone, not the package's index: that loads TypeBox (~90 ms), which a
// configuration error (`--workspace=../x`) must not wait for.
import { ID_PATTERN } from '@wa-session-sync/shared/dist/id-pattern';
import { readSecretFile, SecretFileError } from '@wa-session-sync/shared/dist/secret-file';
import { ConfigError } from './errors';

/** Where the accounts live: a Postgres server, or the embedded PGlite folder. */
export type DatabaseConfig =
  | {
      kind: 'postgres';
      /** The full connection string (may hold a password: never print it, print `label`). */
      url: string;
      /** `host:port/database`, safe to print. */
      label: string;
    }
  | { kind: 'embedded'; dataDir: string; label: string };

/** Reconnect back-off across runs. */
export interface BackoffPolicy {
  /** Wait after the first failed attempt; doubles with each further attempt. */
  baseMinutes: number;
  /** Attempts after which the sync gives up on a session until a person acts. */
  maxAttempts: number;
}

/** Everything `wa-sync sync-sessions` needs, resolved once from flags and environment. */
export interface SyncConfig {
  /**
   * Worker base URL without a trailing slash (`WHATSAPP_NODE_SERVICE_URL`); with a fleet, the
   * first of `fleet` (what the single-worker report names).
   */
  workerUrl: string;
  /**
   * `WHATSAPP_NODE_SERVICE_URLS`: the fleet's base URLs (trimmed, without trailing slashes, each
   * once). Set, the run places sessions across these workers, records `whatsapp_accounts.worker_id`
   * and keeps `whatsapp_workers`; `null`: one worker, the single-worker sync as it always was.
   */
  fleet: string[] | null;
  /** `--watch[=<seconds>]`: run again this many seconds after each run ends, until SIGTERM/SIGINT; `undefined`: run once. */
  watchSeconds: number | undefined;
  /** `WHATSAPP_NODE_API_KEY` (or the file `WHATSAPP_NODE_API_KEY_FILE` names), sent as `X-API-Key`; never printed. */
  apiKey: string | undefined;
  database: DatabaseConfig;
  /** Winston JSON-lines audit file (`WA_SYNC_AUDIT_LOG`). */
  auditLogPath: string;
  /**
   * node_exporter textfile written after every run, skipped ones included (`WA_SYNC_METRICS_FILE`,
   * an absolute path ending in `.prom`); `undefined`: none is written.
   */
  metricsFile: string | undefined;
  /** The longest one exchange with the worker may take, from connecting to the answer's last byte (`WA_SYNC_REQUEST_TIMEOUT_MS`). */
  requestTimeoutMs: number;
  /**
   * The whole run's deadline (`WA_SYNC_RUN_TIMEOUT_SECONDS`): no request to the worker is sent
   * after it and one in flight is cut at it (a start/reconnect cut so is a failed request, and the
   * rows are still written); no Postgres statement of the run may take longer than this either.
   */
  runTimeoutMs: number;
  /** A lock held longer than this is a stuck sync, reported with exit 1 (`WA_SYNC_STUCK_MINUTES`). */
  stuckMs: number;
  /** Reconnect requests in flight at once (`WA_SYNC_RECONNECT_CONCURRENCY`). */
  reconnectConcurrency: number;
  backoff: BackoffPolicy;
  autoReconnect: boolean;
  /** Only this workspace's accounts and sessions, when set. */
  workspaceId: string | undefined;
  dryRun: boolean;
  json: boolean;
  /** Colour the human report: only on a terminal and never with `NO_COLOR`. */
  color: boolean;
  /** Print the process's peak RSS to stderr at exit (`WA_SYNC_REPORT_MAX_RSS=1`, for the benchmark). */
  reportMaxRss: boolean;
}

export interface SyncFlags {
  autoReconnect?: boolean;
  /** `--watch` alone is `true`; `--watch=30` is `'30'`. */
  watch?: boolean | string;
  workspace?: string;
  dryRun?: boolean;
  json?: boolean;
}

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_WORKER_URL = 'http://localhost:3001';
export const DEFAULT_AUDIT_LOG = './logs/wa-sync-audit.log';
export const DEFAULT_DATA_DIR = './.data/pglite';

export function resolveSyncConfig(flags: SyncFlags, env: Env, stdoutIsTTY: boolean): SyncConfig {
  const workspaceId = flags.workspace;
  if (workspaceId !== undefined && !ID_PATTERN.test(workspaceId)) {
    throw new ConfigError(`--workspace must match ${ID_PATTERN.source}, got ${JSON.stringify(workspaceId)}`);
  }
  const workers = resolveWorkers(env);
  return {
    ...workers,
    watchSeconds: resolveWatch(flags.watch),
    apiKey: secret(env, 'WHATSAPP_NODE_API_KEY'),
    database: resolveDatabaseConfig(env),
    auditLogPath: path.resolve(env.WA_SYNC_AUDIT_LOG || DEFAULT_AUDIT_LOG),
    metricsFile: resolveMetricsFile(env.WA_SYNC_METRICS_FILE),
    requestTimeoutMs: boundedInt(env, 'WA_SYNC_REQUEST_TIMEOUT_MS', 10_000, 100, 300_000),
    runTimeoutMs: boundedInt(env, 'WA_SYNC_RUN_TIMEOUT_SECONDS', 240, 1, 3_600) * 1_000,
    stuckMs: stuckMinutes(env) * 60_000,
    reconnectConcurrency: boundedInt(env, 'WA_SYNC_RECONNECT_CONCURRENCY', 4, 1, 64),
    backoff: {
      baseMinutes: boundedInt(env, 'WA_SYNC_RECONNECT_BACKOFF_MINUTES', 5, 1, MAX_BACKOFF_MINUTES),
      maxAttempts: boundedInt(env, 'WA_SYNC_RECONNECT_MAX_ATTEMPTS', 5, 1, 100),
    },
    autoReconnect: flags.autoReconnect === true,
    workspaceId,
    dryRun: flags.dryRun === true,
    json: flags.json === true,
    color: stdoutIsTTY && env.NO_COLOR === undefined,
    reportMaxRss: env.WA_SYNC_REPORT_MAX_RSS === '1',
  };
}

/**
 * A secret from the environment or, with `<name>_FILE`, from a file private to this process's
 * user (a file keeps it out of `/proc/<pid>/environ`, which every process of the user may read).
 */
function secret(env: Env, name: 'WHATSAPP_NODE_API_KEY' | 'DATABASE_URL'): string | undefined {
  const file = env[`${name}_FILE`];
  if (!file) return env[name] || undefined;
  if (env[name]) throw new ConfigError(`${name} and ${name}_FILE: set one of them, not both`);
  try {
    return readSecretFile(`${name}_FILE`, file, process.getuid?.());
  } catch (error) {
    if (error instanceof SecretFileError) throw new ConfigError(error.message);
    throw error;
  }
}

/** Everything `wa-sync drain` / `undrain` need: the fleet, its key, the database and the bounds. */
export interface DrainConfig {
  /** The fleet (`WHATSAPP_NODE_SERVICE_URLS`, or the one `WHATSAPP_NODE_SERVICE_URL`). */
  fleet: string[];
  apiKey: string | undefined;
  database: DatabaseConfig;
  requestTimeoutMs: number;
  /** How long one moved session may take to be `connected` on its new worker (`WA_SYNC_DRAIN_CONNECT_TIMEOUT_SECONDS`, default 120). */
  connectTimeoutMs: number;
  /** How long to wait for a sync run to let go of the lock before each move (`WA_SYNC_RUN_TIMEOUT_SECONDS`: a run is bounded by it). */
  lockWaitMs: number;
  json: boolean;
}

export function resolveDrainConfig(flags: { json?: boolean }, env: Env): DrainConfig {
  const workers = resolveWorkers(env);
  return {
    fleet: workers.fleet ?? [workers.workerUrl],
    apiKey: secret(env, 'WHATSAPP_NODE_API_KEY'),
    database: resolveDatabaseConfig(env),
    requestTimeoutMs: boundedInt(env, 'WA_SYNC_REQUEST_TIMEOUT_MS', 10_000, 100, 300_000),
    connectTimeoutMs: boundedInt(env, 'WA_SYNC_DRAIN_CONNECT_TIMEOUT_SECONDS', 120, 1, 3_600) * 1_000,
    lockWaitMs: boundedInt(env, 'WA_SYNC_RUN_TIMEOUT_SECONDS', 240, 1, 3_600) * 1_000,
    json: flags.json === true,
  };
}

/** `--watch`'s interval when none is given. */
export const DEFAULT_WATCH_SECONDS = 15;

function resolveWatch(value: boolean | string | undefined): number | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return DEFAULT_WATCH_SECONDS;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 86_400) {
    throw new ConfigError(`--watch takes whole seconds from 1 to 86400 (--watch=15), got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/**
 * The worker or the fleet. `WHATSAPP_NODE_SERVICE_URLS` and `WHATSAPP_NODE_SERVICE_URL` both set
 * is refused: which one wins would be a guess, and a guess that drops a worker moves its sessions.
 */
function resolveWorkers(env: Env): { workerUrl: string; fleet: string[] | null } {
  const list = env.WHATSAPP_NODE_SERVICE_URLS;
  if (list === undefined || list === '') return { workerUrl: resolveWorkerUrl(env.WHATSAPP_NODE_SERVICE_URL), fleet: null };
  if (env.WHATSAPP_NODE_SERVICE_URL) {
    throw new ConfigError('WHATSAPP_NODE_SERVICE_URL and WHATSAPP_NODE_SERVICE_URLS are both set: set one (URLS for a fleet, URL for one worker)');
  }
  const fleet: string[] = [];
  for (const [i, entry] of list.split(',').entries()) {
    const trimmed = entry.trim();
    if (trimmed === '') throw new ConfigError(`WHATSAPP_NODE_SERVICE_URLS entry ${i + 1} is empty (a stray comma?)`);
    const url = resolveWorkerUrl(trimmed, `WHATSAPP_NODE_SERVICE_URLS entry ${i + 1}`);
    if (!fleet.includes(url)) fleet.push(url);
  }
  return { workerUrl: fleet[0], fleet };
}

export function resolveDatabaseConfig(env: Env): DatabaseConfig {
  const url = secret(env, 'DATABASE_URL');
  if (!url) {
    const dataDir = path.resolve(env.WA_SYNC_DATA_DIR || DEFAULT_DATA_DIR);
    return { kind: 'embedded', dataDir, label: `embedded PGlite at ${dataDir}` };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The value itself is not echoed: it may hold a password.
    throw new ConfigError('DATABASE_URL is not a valid URL (expected postgres://user:password@host:port/database)');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigError(`DATABASE_URL must use postgres:// or postgresql://, got ${parsed.protocol}//`);
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '(default)';
  return { kind: 'postgres', url, label: `${parsed.hostname}:${parsed.port || '5432'}/${database}` };
}

function resolveWorkerUrl(value: string | undefined, name = 'WHATSAPP_NODE_SERVICE_URL'): string {
  const raw = value || DEFAULT_WORKER_URL;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL: ${JSON.stringify(raw)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(`${name} must be an http(s) URL, got ${parsed.protocol}// (${JSON.stringify(parsed.host)})`);
  }
  if (parsed.username || parsed.password || parsed.search) {
    // The value itself is not echoed: it may carry a password.
    throw new ConfigError(`${name} must not carry credentials or a query; use WHATSAPP_NODE_API_KEY`);
  }
  return parsed.toString().replace(/\/+$/, '');
}

/**
 * `WA_SYNC_METRICS_FILE`: node_exporter's textfile collector reads only `*.prom` files, so any other
 * name would be written after every run and never read: refused up front rather than found out
 * when the alert that depends on it stays silent.
 */
function resolveMetricsFile(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!value.endsWith('.prom') || path.basename(value) === '.prom') {
    throw new ConfigError(
      `WA_SYNC_METRICS_FILE must name a file ending in .prom (node_exporter's textfile collector reads no other), got ${JSON.stringify(value)}`,
    );
  }
  return path.resolve(value);
}

/** The longest wait between two reconnect attempts: the doubling stops there (a daily retry at the slowest). */
export const MAX_BACKOFF_MINUTES = 1_440;

/**
 * An integer between `min` and `max`. Every number has bounds so that none can turn a run into
 * a hang (a timeout of days), a flood (thousands of requests at once) or an overflow (a back-off
 * doubled past what a date can hold).
 */
function boundedInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** `WA_SYNC_STUCK_MINUTES` (default 15): minutes, fractions allowed (`0.5`), more than 0 and at most a day. */
function stuckMinutes(env: Env): number {
  const value = env.WA_SYNC_STUCK_MINUTES;
  if (value === undefined || value === '') return 15;
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0 || Number(value) > 1_440) {
    throw new ConfigError(`WA_SYNC_STUCK_MINUTES must be a number of minutes above 0 and at most 1440, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}
