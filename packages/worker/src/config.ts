import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors';
import { DEFAULT_SESSIONS_DIR, webVersionCacheFolder } from './paths';
import { guessableSecretRule } from './secret-strength';
import { readSecretFile, SECRET_VARIABLES, type SecretVariable } from './secrets';

/** The worker's whole configuration, parsed once from the environment at boot. */
export interface WorkerConfig {
  port: number;
  host: string;
  apiKey: string;
  sessionsDir: string;
  autoReconnect: boolean;
  maxReconnectAttempts: number;
  /** Seconds between live probes of every session. */
  healthCheckIntervalSec: number;
  restoreConcurrency: number;
  /**
   * Restore the saved sessions at start (WHATSAPP_RESTORE_ON_START, default true). `false` starts
   * empty, keeping the saved auth on disk: an operator knob, and how tests reproduce a worker that
   * lost its sessions.
   */
  restoreOnStart: boolean;
  executablePath: string | undefined;
  browserArgs: string[];
  /** whatsapp-web.js `webVersionCache` (WHATSAPP_WEBJS_WEB_VERSION_CACHE, WHATSAPP_WEBJS_WEB_VERSION_REMOTE_PATH). */
  webVersionCache: WebVersionCache;
  webhookUrl: string | undefined;
  webhookSecret: string | undefined;
  /** The undelivered webhook backlog's bound in bytes (WHATSAPP_WEBHOOK_MAX_QUEUE_MB, default 32). */
  webhookMaxQueueBytes: number;
  logDir: string;
  logLevel: string;
  /** First reconnect delay; doubles per attempt, with jitter (WHATSAPP_WEBJS_RECONNECT_BASE_DELAY_MS). */
  reconnectBaseDelayMs: number;
  /** Upper bound of one reconnect delay (WHATSAPP_WEBJS_RECONNECT_MAX_DELAY_MS). */
  reconnectMaxDelayMs: number;
  /** How long a live probe may take before the session counts as wedged (WHATSAPP_WEBJS_PROBE_TIMEOUT_MS). */
  probeTimeoutMs: number;
  /** How long `initialize()` may take before the attempt counts as failed (WHATSAPP_WEBJS_INIT_TIMEOUT_MS). */
  initTimeoutMs: number;
  /** Bound on destroying every client at shutdown (WHATSAPP_SHUTDOWN_TIMEOUT_MS). */
  shutdownTimeoutMs: number;
  /** First webhook retry delay (WHATSAPP_WEBHOOK_RETRY_BASE_MS). */
  webhookRetryBaseMs: number;
  /** Chromium launches at once, for every kind of start (WHATSAPP_LAUNCH_CONCURRENCY). */
  launchConcurrency: number;
  /** Sessions this worker takes; undefined: no cap (WHATSAPP_MAX_SESSIONS). */
  maxSessions: number | undefined;
  /** Below this much available memory a start is refused (WHATSAPP_MIN_FREE_MEMORY_MB). */
  minFreeMemoryMb: number;
  /** An unscanned QR is given up after this long (WHATSAPP_QR_TIMEOUT_SECONDS). */
  qrTimeoutSec: number;
  /** A session authenticated but not connected after this long is a failed launch (WHATSAPP_READY_TIMEOUT_SECONDS). */
  readyTimeoutSec: number;
  /** The memory one session is expected to take: admission and the default cap use it (WHATSAPP_SESSION_MEMORY_MB). */
  sessionMemoryMb: number;
  /** A second way into `GET /metrics` besides the API key: `Authorization: Bearer <token>` (WHATSAPP_METRICS_TOKEN; a secret). */
  metricsToken: string | undefined;
  /** This worker's name among several (WHATSAPP_WORKER_ID, default the host name): `wa_worker_info{worker_id}`. */
  workerId: string;
  /** Where the sessions' logins live, and who may run them (WHATSAPP_AUTH_STORE). */
  authStore: AuthStoreConfig;
}

/**
 * `local`: the profiles in WHATSAPP_SESSIONS_DIR are the logins (one worker per folder).
 * `postgres`: each session runs under a lease in the database and its login is saved there, so any
 * worker can take it over without a QR, and never while another runs it.
 */
export type AuthStoreConfig =
  | { kind: 'local' }
  | {
      kind: 'postgres';
      /** DATABASE_URL (or DATABASE_URL_FILE): a secret, never logged. */
      databaseUrl: string;
      /** WHATSAPP_LEASE_TTL_SECONDS, in ms. */
      leaseTtlMs: number;
      /** WHATSAPP_AUTH_SNAPSHOT_MAX_MB, in bytes. */
      snapshotMaxBytes: number;
      /** WHATSAPP_AUTH_SNAPSHOT_INTERVAL_SECONDS, in ms. */
      snapshotIntervalMs: number;
    };

/**
 * The shortest lease WHATSAPP_LEASE_TTL_SECONDS takes: the holder closes a session's browser at 3/4
 * of the lease and the watchdog kills it at 7/8, so the last eighth (here 0.75 s) is all that is left
 * between a kill and the lease lapsing; any shorter and a slow kill could overlap the next holder.
 */
export const MIN_LEASE_TTL_SECONDS = 6;

/**
 * Where whatsapp-web.js keeps the WhatsApp Web page of each version (its `webVersionCache`, typed
 * as the library's `WebCacheOptions`). `local` always names a folder: the library's own default,
 * `./.wwebjs_cache` in the working directory, cannot be written under the systemd unit, and its
 * failed write (just before `ready`) left every paired session `authenticated` for good.
 */
export type WebVersionCache = { type: 'none' } | { type: 'local'; path: string } | { type: 'remote'; remotePath: string };

/**
 * `WHATSAPP_SESSION_MEMORY_MB` when unset. The bench measured ~46 MiB private per session on the
 * simulator's page (BENCHMARKS.md); real WhatsApp Web loads a far larger app and store, which
 * whatsapp-web.js users report at 150-300 MiB a session. 200 sits in that range: an estimate that
 * errs high only refuses a start early, one that errs low lets the machine swap.
 */
export const DEFAULT_SESSION_MEMORY_MB = 200;

/**
 * Chromium launches at once by default: one per two cores. A launch (Chromium start, page load,
 * injection) is CPU-bound: measured on two cores, two at once finished no restore sooner and
 * tripled /health's p99.
 */
export function defaultLaunchConcurrency(cores = os.availableParallelism()): number {
  return Math.max(1, Math.floor(cores / 2));
}

export { MIN_SECRET_LENGTH } from './secret-strength';

const SECRETS = new Set<string>(SECRET_VARIABLES);

/** A variable's value is unusable; the message completes "<VARIABLE>: ". */
class Invalid extends Error {}

type Parse<T> = (raw: string) => T;

const BOOLEANS: Record<string, boolean> = { true: true, false: false, '1': true, '0': false, TRUE: true, FALSE: false, True: true, False: false };
const bool: Parse<boolean> = (raw) => {
  const value = BOOLEANS[raw];
  if (value === undefined) throw new Invalid('must be true or false (or 1, 0)');
  return value;
};

const int =
  (min: number, max: number): Parse<number> =>
  (raw) => {
    if (!/^\d+$/.test(raw)) throw new Invalid('must be a whole number');
    const value = Number(raw);
    if (value < min) throw new Invalid(`must be at least ${min}`);
    if (value > max) throw new Invalid(`must be at most ${max}`);
    return value;
  };

const positiveNumber: Parse<number> = (raw) => {
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new Invalid('must be a number');
  const value = Number(raw);
  if (value <= 0) throw new Invalid('must be greater than 0');
  return value;
};

const text: Parse<string> = (raw) => {
  const value = raw.trim();
  if (value === '') throw new Invalid('must not be empty');
  return value;
};

const raw: Parse<string> = (value) => value;

const secret: Parse<string> = (value) => {
  const rule = guessableSecretRule(value);
  if (rule) throw new Invalid(rule);
  return value;
};

/** A `postgres://` or `postgresql://` URL; its message never holds the value (it may carry a password). */
const postgresUrl: Parse<string> = (value) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Invalid('must be a postgres:// URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Invalid('must be a postgres:// URL');
  return value;
};

const oneOf =
  <T extends string>(...values: T[]): Parse<T> =>
  (value) => {
    if (!(values as string[]).includes(value)) throw new Invalid(`must be one of ${values.join(', ')}`);
    return value as T;
  };

/**
 * Hosts a webhook may be sent to over plain HTTP: this machine. Elsewhere the body (a `session.qr`
 * holds the pairing secret) would cross a network in clear text.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));
}

const httpUrl: Parse<string> = (value) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Invalid('must be an http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Invalid('must be an http(s) URL');
  return value;
};

/**
 * Reads the environment one variable at a time, in the order of the calls, and stops at the first
 * problem. Unset and empty are the same.
 */
class Reader {
  constructor(
    private readonly env: NodeJS.ProcessEnv,
    /** The worker's user id: a secret file must be its own (or the worker is root). */
    private readonly uid: number | undefined,
  ) {}

  optional<T>(name: string, parse: Parse<T>): T | undefined {
    const value = this.env[name];
    if (value === undefined || value === '') return undefined;
    try {
      return parse(value);
    } catch (error) {
      // A secret's own checks never echo its value; any other message about a secret is withheld.
      if (error instanceof Invalid) throw new ConfigError(`${name}: ${SECRETS.has(name) && parse !== secret ? 'is invalid' : error.message}`);
      throw error;
    }
  }

  get<T>(name: string, parse: Parse<T>, fallback: T): T {
    return this.optional(name, parse) ?? fallback;
  }

  /** A secret from `<name>` or from the file `<name>_FILE` names (one of them, not both). */
  secret(name: SecretVariable, parse: Parse<string>): string | undefined {
    const fileVariable = `${name}_FILE`;
    const file = this.optional(fileVariable, text);
    if (file === undefined) return this.optional(name, parse);
    if (this.env[name]) throw new ConfigError(`${name} and ${fileVariable}: set one of them, not both`);
    const value = readSecretFile(fileVariable, file, this.uid);
    try {
      return parse(value);
    } catch (error) {
      if (error instanceof Invalid) throw new ConfigError(`${name} (from ${fileVariable}): ${parse === secret ? error.message : 'is invalid'}`);
      throw error;
    }
  }
}

/**
 * `WHATSAPP_WEBJS_BROWSER_ARGS`: a JSON array of strings, or whitespace-separated words.
 */
export function parseBrowserArgs(raw: string | undefined): string[] {
  const text = raw?.trim() ?? '';
  if (text === '') return [];
  if (text.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ConfigError('WHATSAPP_WEBJS_BROWSER_ARGS: not a valid JSON array');
    }
    if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
      throw new ConfigError('WHATSAPP_WEBJS_BROWSER_ARGS: must be a JSON array of strings');
    }
    return parsed;
  }
  return text.split(/\s+/);
}

/** Parses and validates the environment; throws one `ConfigError` naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, uid: number | undefined = process.getuid?.()): WorkerConfig {
  const e = new Reader(env, uid);
  const port = e.get('PORT', int(0, 65535), 3001);
  const host = e.get('HOST', text, '127.0.0.1');
  const apiKey = e.secret('WHATSAPP_NODE_API_KEY', secret);
  if (apiKey === undefined) throw new ConfigError('WHATSAPP_NODE_API_KEY: is required');
  const sessionsDir = path.resolve(e.get('WHATSAPP_SESSIONS_DIR', text, DEFAULT_SESSIONS_DIR));
  const autoReconnect = e.get('WHATSAPP_WEBJS_AUTO_RECONNECT', bool, true);
  const maxReconnectAttempts = e.get('WHATSAPP_WEBJS_MAX_RECONNECT_ATTEMPTS', int(0, 1000), 3);
  const healthCheckIntervalSec = e.get('WHATSAPP_WEBJS_HEALTH_CHECK_INTERVAL', positiveNumber, 30);
  const restoreConcurrency = e.get('WHATSAPP_RESTORE_CONCURRENCY', int(1, 64), 2);
  const restoreOnStart = e.get('WHATSAPP_RESTORE_ON_START', bool, true);
  const executablePath = e.optional('PUPPETEER_EXECUTABLE_PATH', text);
  const browserArgs = parseBrowserArgs(e.optional('WHATSAPP_WEBJS_BROWSER_ARGS', raw));
  const webVersionCacheType = e.get('WHATSAPP_WEBJS_WEB_VERSION_CACHE', oneOf('none', 'local', 'remote'), 'local');
  const webVersionRemotePath = e.optional('WHATSAPP_WEBJS_WEB_VERSION_REMOTE_PATH', httpUrl);
  const webhookUrl = e.optional('WHATSAPP_WEBHOOK_URL', httpUrl);
  const webhookSecret = e.secret('WHATSAPP_WEBHOOK_SECRET', secret);
  const webhookAllowHttp = e.get('WHATSAPP_WEBHOOK_ALLOW_HTTP', bool, false);
  const webhookMaxQueueBytes = Math.floor(e.get('WHATSAPP_WEBHOOK_MAX_QUEUE_MB', positiveNumber, 32) * 1024 * 1024);
  const logDir = path.resolve(e.get('LOG_DIR', text, './logs'));
  const logLevel = e.get('LOG_LEVEL', oneOf('error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'), 'info');
  const reconnectBaseDelayMs = e.get('WHATSAPP_WEBJS_RECONNECT_BASE_DELAY_MS', int(0, 3_600_000), 2000);
  const reconnectMaxDelayMs = e.get('WHATSAPP_WEBJS_RECONNECT_MAX_DELAY_MS', int(0, 3_600_000), 60_000);
  const probeTimeoutMs = e.get('WHATSAPP_WEBJS_PROBE_TIMEOUT_MS', int(1, 600_000), 10_000);
  const initTimeoutMs = e.get('WHATSAPP_WEBJS_INIT_TIMEOUT_MS', int(1, 3_600_000), 120_000);
  const shutdownTimeoutMs = e.get('WHATSAPP_SHUTDOWN_TIMEOUT_MS', int(1, 600_000), 10_000);
  const webhookRetryBaseMs = e.get('WHATSAPP_WEBHOOK_RETRY_BASE_MS', int(0, 600_000), 1000);
  const launchConcurrency = e.get('WHATSAPP_LAUNCH_CONCURRENCY', int(1, 64), defaultLaunchConcurrency());
  const maxSessions = e.optional('WHATSAPP_MAX_SESSIONS', int(1, 100_000));
  const minFreeMemoryMb = e.get('WHATSAPP_MIN_FREE_MEMORY_MB', int(0, 10_000_000), 300);
  const qrTimeoutSec = e.get('WHATSAPP_QR_TIMEOUT_SECONDS', positiveNumber, 300);
  const readyTimeoutSec = e.get('WHATSAPP_READY_TIMEOUT_SECONDS', positiveNumber, 120);
  const sessionMemoryMb = e.get('WHATSAPP_SESSION_MEMORY_MB', int(1, 1_000_000), DEFAULT_SESSION_MEMORY_MB);
  const metricsToken = e.secret('WHATSAPP_METRICS_TOKEN', secret);
  const workerId = e.get('WHATSAPP_WORKER_ID', text, os.hostname());
  const webVersionCache = resolveWebVersionCache(webVersionCacheType, sessionsDir, webVersionRemotePath);
  const authStore = readAuthStore(e);
  if (webhookUrl && !webhookSecret) {
    throw new ConfigError('WHATSAPP_WEBHOOK_SECRET: is required when WHATSAPP_WEBHOOK_URL is set');
  }
  if (webhookUrl && !webhookAllowHttp) {
    const url = new URL(webhookUrl);
    // Only the host is named: a URL may hold credentials or a token.
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      throw new ConfigError(
        `WHATSAPP_WEBHOOK_URL: plain http:// to ${url.hostname} is refused (session.qr events carry the pairing secret): use https://, or set WHATSAPP_WEBHOOK_ALLOW_HTTP=true on a network you trust`,
      );
    }
  }
  return {
    port,
    host,
    apiKey,
    sessionsDir,
    autoReconnect,
    maxReconnectAttempts,
    healthCheckIntervalSec,
    restoreConcurrency,
    restoreOnStart,
    executablePath,
    browserArgs,
    webVersionCache,
    webhookUrl,
    webhookSecret,
    webhookMaxQueueBytes,
    logDir,
    logLevel,
    reconnectBaseDelayMs,
    reconnectMaxDelayMs,
    probeTimeoutMs,
    initTimeoutMs,
    shutdownTimeoutMs,
    webhookRetryBaseMs,
    launchConcurrency,
    maxSessions,
    minFreeMemoryMb,
    qrTimeoutSec,
    readyTimeoutSec,
    sessionMemoryMb,
    metricsToken,
    workerId,
    authStore,
  };
}

function readAuthStore(e: Reader): AuthStoreConfig {
  const kind = e.get('WHATSAPP_AUTH_STORE', oneOf('local', 'postgres'), 'local');
  if (kind === 'local') return { kind };
  const databaseUrl = e.secret('DATABASE_URL', postgresUrl);
  if (databaseUrl === undefined) {
    throw new ConfigError('DATABASE_URL: is required when WHATSAPP_AUTH_STORE=postgres (or set DATABASE_URL_FILE to a file holding it)');
  }
  return {
    kind,
    databaseUrl,
    leaseTtlMs: e.get('WHATSAPP_LEASE_TTL_SECONDS', int(MIN_LEASE_TTL_SECONDS, 3600), 30) * 1000,
    snapshotMaxBytes: Math.floor(e.get('WHATSAPP_AUTH_SNAPSHOT_MAX_MB', positiveNumber, 256) * 1024 * 1024),
    snapshotIntervalMs: e.get('WHATSAPP_AUTH_SNAPSHOT_INTERVAL_SECONDS', int(10, 86_400), 300) * 1000,
  };
}

function resolveWebVersionCache(type: WebVersionCache['type'], sessionsDir: string, remotePath: string | undefined): WebVersionCache {
  switch (type) {
    case 'none':
      return { type };
    case 'local':
      return { type, path: webVersionCacheFolder(sessionsDir) };
    case 'remote':
      // whatsapp-web.js would throw on every launch instead.
      if (!remotePath) {
        throw new ConfigError(
          'WHATSAPP_WEBJS_WEB_VERSION_REMOTE_PATH: is required when WHATSAPP_WEBJS_WEB_VERSION_CACHE=remote (a URL template with {version})',
        );
      }
      return { type, remotePath };
  }
}
