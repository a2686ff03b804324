import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { WebhookEvent } from '@wa-session-sync/shared';
import { buildApp, type AppOptions } from '../src/app';
import { EventBus, type WorkerEvent } from '../src/events/bus';
import { webhookListener } from '../src/events/webhook-events';
import { closeLogger, createLogger, type Logger } from '../src/log';
import { SessionHistory } from '../src/sessions/history';
import { SessionManager, type ManagerOptions } from '../src/sessions/manager';
import { FakeDriver, type FakeClient } from './fake-driver';
import { tempDir, waitFor } from './helpers';

/** A manager over the fake driver in a temp folder, logging to a file, its events recorded. */
export interface SessionHarness {
  dir: string;
  sessionsDir: string;
  logFile: string;
  driver: FakeDriver;
  manager: SessionManager;
  readonly logger: Logger;
  /** The webhook events the sessions caused, as the dispatcher would get them. */
  events: WebhookEvent[];
  /** The manager's bus, and every event published on it. */
  bus: EventBus;
  busEvents: WorkerEvent[];
  /** The `n`-th client launched for a session, once the manager has created it. */
  client(sessionId: string, n?: number): Promise<FakeClient>;
  /** The whole log: closes the logger first, so call it last. */
  log(): Promise<string>;
  close(): Promise<void>;
}

export async function sessionHarness(options: Partial<ManagerOptions> = {}): Promise<SessionHarness> {
  const dir = await tempDir('sessions');
  const sessionsDir = path.join(dir, 'sessions');
  const logDir = path.join(dir, 'logs');
  const driver = new FakeDriver();
  const events: WebhookEvent[] = [];
  const busEvents: WorkerEvent[] = [];
  const logger = createLogger({ logDir, level: 'debug' });
  const bus = new EventBus(logger);
  bus.subscribe(webhookListener({ publish: (e) => events.push(e) }));
  bus.subscribe((e) => busEvents.push(e));
  const h: SessionHarness = {
    dir,
    sessionsDir,
    logFile: path.join(logDir, 'whatsapp-service.log'),
    driver,
    logger,
    events,
    bus,
    busEvents,
    manager: undefined as unknown as SessionManager,
    async client(sessionId, n = 1) {
      await waitFor(() => driver.clientsOf(sessionId).length >= n, `client ${n} of ${sessionId}`, 5000);
      return driver.clientsOf(sessionId)[n - 1]!;
    },
    async log() {
      await closeLogger(h.logger);
      return fs.readFile(h.logFile, 'utf8');
    },
    async close() {
      await h.manager.shutdown(1000);
      await closeLogger(h.logger);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  h.manager = new SessionManager({
    sessionsDir,
    driver,
    logger: h.logger,
    bus,
    autoReconnect: true,
    maxReconnectAttempts: 2,
    reconnectBaseDelayMs: 1,
    reconnectMaxDelayMs: 2,
    probeTimeoutMs: 50,
    initTimeoutMs: 1000,
    destroyTimeoutMs: 100,
    ...options,
  });
  return h;
}

/** The API key of {@link apiHarness}'s app. */
export const API_HARNESS_KEY = 'unit-key-7d1e0b55';

/** {@link sessionHarness} with the worker's Fastify app over its manager (not listening: `inject`). */
export interface ApiHarness extends SessionHarness {
  app: FastifyInstance;
  /** One request through `inject`, with the key unless `key` is null. */
  api(method: 'GET' | 'POST' | 'DELETE', url: string, body?: object, key?: string | null): Promise<{ status: number; json: any; type: string; raw: Buffer }>;
}

export async function apiHarness(
  options: Partial<ManagerOptions> = {},
  appOptions: Pick<AppOptions, 'authThrottle' | 'timeoutMs'> & { history?: boolean } = {},
): Promise<ApiHarness> {
  const base = await sessionHarness(options);
  // The history as the service wires it (bus subscriber, view fields, the events route), when asked for.
  const { history: withHistory, ...rest } = appOptions;
  const history = withHistory ? new SessionHistory({ sessionsDir: base.sessionsDir, logger: base.logger, now: options.now }) : undefined;
  if (history) {
    history.subscribe(base.bus);
    base.manager.addViewFields((view, folder) => history.viewFields(view.workspace_id, view.session_id, folder));
  }
  const app = await buildApp({ apiKey: API_HARNESS_KEY, manager: base.manager, logger: base.logger, history, ...rest });
  const closeBase = base.close;
  return Object.assign(base, {
    app,
    async api(method: 'GET' | 'POST' | 'DELETE', url: string, body?: object, key: string | null = API_HARNESS_KEY) {
      const response = await app.inject({ method, url, payload: body, headers: key ? { 'x-api-key': key } : {} });
      const type = String(response.headers['content-type'] ?? '');
      return { status: response.statusCode, type, raw: response.rawPayload, json: type.includes('json') ? response.json() : null };
    },
    async close() {
      await base.manager.shutdown(1000);
      await app.close();
      await history?.stop();
      await closeBase();
    },
  });
}
