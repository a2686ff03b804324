import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors';

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
  webVersionCache: 'none' | 'local' | 'remote' | undefined;
  webhookUrl: string | undefined;
  webhookSecret: string | undefined;
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
}

const bool = z
  .enum(['true', 'false', '1', '0', 'TRUE', 'FALSE', 'True', 'False'])
  .transform((v) => v === 'true' || v === '1' || v === 'TRUE' || v === 'True');

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const positiveNumber = z
  .string()
  .regex(/^\d+(\.\d+)?$/, 'must be a number')
  .transform(Number)
  .pipe(z.number().positive());

const nonEmpty = z.string().trim().min(1, 'must not be empty');

const schema = z.object({
  PORT: int(0, 65535).default(3001),
  HOST: nonEmpty.default('127.0.0.1'),
  WHATSAPP_NODE_API_KEY: z.string({ error: 'is required' }).min(1, 'is required'),
  WHATSAPP_SESSIONS_DIR: nonEmpty.default('./sessions'),
  WHATSAPP_WEBJS_AUTO_RECONNECT: bool.default(true),
  WHATSAPP_WEBJS_MAX_RECONNECT_ATTEMPTS: int(0, 1000).default(3),
  WHATSAPP_WEBJS_HEALTH_CHECK_INTERVAL: positiveNumber.default(30),
  WHATSAPP_RESTORE_CONCURRENCY: int(1, 64).default(2),
  WHATSAPP_RESTORE_ON_START: bool.default(true),
  PUPPETEER_EXECUTABLE_PATH: nonEmpty.optional(),
  WHATSAPP_WEBJS_BROWSER_ARGS: z.string().optional(),
  WHATSAPP_WEBJS_WEB_VERSION_CACHE: z.enum(['none', 'local', 'remote']).optional(),
  WHATSAPP_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  WHATSAPP_WEBHOOK_SECRET: z.string().optional(),
  LOG_DIR: nonEmpty.default('./logs'),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
  WHATSAPP_WEBJS_RECONNECT_BASE_DELAY_MS: int(0, 3_600_000).default(2000),
  WHATSAPP_WEBJS_RECONNECT_MAX_DELAY_MS: int(0, 3_600_000).default(60_000),
  WHATSAPP_WEBJS_PROBE_TIMEOUT_MS: int(1, 600_000).default(10_000),
  WHATSAPP_WEBJS_INIT_TIMEOUT_MS: int(1, 3_600_000).default(120_000),
  WHATSAPP_SHUTDOWN_TIMEOUT_MS: int(1, 600_000).default(10_000),
  WHATSAPP_WEBHOOK_RETRY_BASE_MS: int(0, 600_000).default(1000),
});

/** Variables whose values must never be echoed, even in an error. */
const SECRET_VARIABLES = new Set(['WHATSAPP_NODE_API_KEY', 'WHATSAPP_WEBHOOK_SECRET']);

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
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const emptyAsUnset = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const result = schema.safeParse(emptyAsUnset);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const detail = SECRET_VARIABLES.has(variable) ? 'is required' : issue.message;
    throw new ConfigError(`${variable}: ${detail}`);
  }
  const e = result.data;
  if (e.WHATSAPP_WEBHOOK_URL && !e.WHATSAPP_WEBHOOK_SECRET) {
    throw new ConfigError('WHATSAPP_WEBHOOK_SECRET: is required when WHATSAPP_WEBHOOK_URL is set');
  }
  return {
    port: e.PORT,
    host: e.HOST,
    apiKey: e.WHATSAPP_NODE_API_KEY,
    sessionsDir: path.resolve(e.WHATSAPP_SESSIONS_DIR),
    autoReconnect: e.WHATSAPP_WEBJS_AUTO_RECONNECT,
    maxReconnectAttempts: e.WHATSAPP_WEBJS_MAX_RECONNECT_ATTEMPTS,
    healthCheckIntervalSec: e.WHATSAPP_WEBJS_HEALTH_CHECK_INTERVAL,
    restoreConcurrency: e.WHATSAPP_RESTORE_CONCURRENCY,
    restoreOnStart: e.WHATSAPP_RESTORE_ON_START,
    executablePath: e.PUPPETEER_EXECUTABLE_PATH,
    browserArgs: parseBrowserArgs(e.WHATSAPP_WEBJS_BROWSER_ARGS),
    webVersionCache: e.WHATSAPP_WEBJS_WEB_VERSION_CACHE,
    webhookUrl: e.WHATSAPP_WEBHOOK_URL,
    webhookSecret: e.WHATSAPP_WEBHOOK_SECRET,
    logDir: path.resolve(e.LOG_DIR),
    logLevel: e.LOG_LEVEL,
    reconnectBaseDelayMs: e.WHATSAPP_WEBJS_RECONNECT_BASE_DELAY_MS,
    reconnectMaxDelayMs: e.WHATSAPP_WEBJS_RECONNECT_MAX_DELAY_MS,
    probeTimeoutMs: e.WHATSAPP_WEBJS_PROBE_TIMEOUT_MS,
    initTimeoutMs: e.WHATSAPP_WEBJS_INIT_TIMEOUT_MS,
    shutdownTimeoutMs: e.WHATSAPP_SHUTDOWN_TIMEOUT_MS,
    webhookRetryBaseMs: e.WHATSAPP_WEBHOOK_RETRY_BASE_MS,
  };
}
