import { buildApp, packageVersion } from './app';
import type { SessionsDirLock } from './browser/dir-lock';
import type { BrowserChoice } from './browser/discovery';
import { markerArg } from './browser/launch';
import { findProcesses, killProcesses, type ReapResult } from './browser/orphans';
import { sandboxOnThisMachine } from './browser/sandbox';
import type { WorkerConfig } from './config';
import { EventBus } from './events/bus';
import { WebhookDispatcher } from './events/webhook';
import { webhookListener } from './events/webhook-events';
import { installCrashPolicy } from './crash-policy';
import { closeLogger, createLogger } from './log';
import { WorkerMetrics } from './metrics';
import { closeInOrder } from './shutdown';
import { SessionManager } from './sessions/manager';
import { HealthMonitor } from './sessions/health-monitor';
import { SessionHistory } from './sessions/history';
import { prepareRestore, runRestore, type PreparedRestore } from './sessions/restore';
import { errorMessage } from './util';
import { WwebjsDriver } from './sessions/wwebjs-driver';
import { LOCAL_AUTH, type SessionAuth } from './sessions/session-auth';

/**
 * Niceness of every Chromium after launch: browsers yield the CPU to the worker's event loop, so
 * the HTTP API stays responsive while sessions restore (Chromium raises its own main threads to
 * nice -8 when run as root). Not an environment variable on purpose: no operator should need it.
 */
const BROWSER_NICE = 10;

/** The worker proper: logger, sessions, HTTP API, restore, signals. `main` loads it once the cheap checks are done. */
export async function runWorker(
  config: WorkerConfig,
  browser: BrowserChoice,
  orphans: { pids: readonly number[]; reaped: Promise<ReapResult> },
  lock: SessionsDirLock,
): Promise<void> {
  const logger = createLogger({ logDir: config.logDir, level: config.logLevel, console: true });
  installCrashPolicy(logger);
  const marker = markerArg(config.sessionsDir, lock.token);
  logger.info('Browser', { executablePath: browser.executablePath, source: browser.source, headless: browser.headless, why: browser.reason });
  if (browser.warning) logger.warn('Browser', { executablePath: browser.executablePath, warning: browser.warning });
  const sandbox = sandboxOnThisMachine(config.browserArgs);
  logger[sandbox.enabled ? 'info' : 'warn'](`Chromium sandbox ${sandbox.enabled ? 'on' : 'off'}`, { why: sandbox.why });

  // Chromium of an earlier worker: main.ts lowered them and kills each once its profile is saved.
  if (orphans.pids.length > 0) {
    logger.warn('Chromium of an earlier worker found; each is killed once its profile is saved', { pids: orphans.pids });
    void orphans.reaped.then((reaped) => logger.info('Chromium of the earlier worker gone', { ...reaped }));
  }

  // Everything the sessions do is published here; the webhook dispatcher is one subscriber.
  const bus = new EventBus(logger);
  // Declared before the dispatcher, which reports its outcomes to it; the manager is given below.
  let metrics: WorkerMetrics | undefined;
  const dispatcher = config.webhookUrl
    ? new WebhookDispatcher({
        url: config.webhookUrl,
        secret: config.webhookSecret ?? '',
        logger,
        retryBaseMs: config.webhookRetryBaseMs,
        maxQueueBytes: config.webhookMaxQueueBytes,
        onOutcome: (event, outcome) => metrics?.webhookOutcome(event, outcome),
      })
    : null;
  if (dispatcher) bus.subscribe(webhookListener(dispatcher));
  // The sessions' history and message counts (session folders) and the worker's heartbeat.
  const history = new SessionHistory({ sessionsDir: config.sessionsDir, logger });
  history.subscribe(bus);
  // WHATSAPP_AUTH_STORE=postgres: leases and saved logins in the database (loaded only then).
  let managerRef: SessionManager | undefined;
  const portable = config.authStore.kind === 'postgres' ? await openPortableAuth(config, logger, () => managerRef!, () => metrics) : null;
  const auth: SessionAuth = portable?.auth ?? LOCAL_AUTH;
  logger.info('Auth store', { kind: auth.kind, workerId: config.workerId });
  const manager = new SessionManager({
    sessionsDir: config.sessionsDir,
    driver: new WwebjsDriver({
      browser,
      marker,
      previousMarker: lock.previousToken ? markerArg(config.sessionsDir, lock.previousToken) : null,
      browserArgs: config.browserArgs,
      sandbox: sandbox.enabled,
      webVersionCache: config.webVersionCache,
      browserNice: BROWSER_NICE,
    }),
    logger,
    bus,
    autoReconnect: config.autoReconnect,
    maxReconnectAttempts: config.maxReconnectAttempts,
    reconnectBaseDelayMs: config.reconnectBaseDelayMs,
    reconnectMaxDelayMs: config.reconnectMaxDelayMs,
    probeTimeoutMs: config.probeTimeoutMs,
    initTimeoutMs: config.initTimeoutMs,
    launchConcurrency: config.launchConcurrency,
    capacity: { maxSessions: config.maxSessions, minFreeMemoryMb: config.minFreeMemoryMb, sessionMemoryMb: config.sessionMemoryMb },
    qrTimeoutMs: config.qrTimeoutSec * 1000,
    readyTimeoutMs: config.readyTimeoutSec * 1000,
    auth,
  });
  managerRef = manager;
  portable?.auth.start();
  metrics = new WorkerMetrics({
    manager,
    webhook: dispatcher,
    version: packageVersion(),
    workerId: config.workerId,
    leasesHeld: () => portable?.auth.keeper.held().length ?? 0,
  });
  bus.subscribe(metrics.listener);
  manager.addViewFields((view, folder) => history.viewFields(view.workspace_id, view.session_id, folder));
  // Every view names the worker that runs the session (a fleet's sync records it).
  manager.addViewFields(() => ({ worker_id: config.workerId }));
  // Before the saved sessions are registered: a crash's downtime is closed, then the start recorded.
  await history.start(await manager.savedSessions()).catch((error: unknown) => logger.error('History start failed', { error: errorMessage(error) }));
  // The saved sessions are registered before the API answers: a start for one of them (a sync
  // run at once after a restart) answers with it instead of launching it a second time.
  let prepared: PreparedRestore | null = null;
  if (config.restoreOnStart) {
    prepared = await prepareRestore({ manager, sessionsDir: config.sessionsDir, logger }).catch((error: unknown) => {
      logger.error('Restore failed', { error: errorMessage(error) });
      return null;
    });
  } else {
    // Without a restore, the saved sessions are still read once before the API answers: an id the
    // worker does not hold is then looked up in memory, never by walking the folder.
    await manager.savedSessions();
  }
  const app = await buildApp({ apiKey: config.apiKey, manager, logger, metrics, metricsToken: config.metricsToken, workerId: config.workerId, history });
  const monitor = new HealthMonitor(manager, config.healthCheckIntervalSec, logger);
  // The one shutdown path: `app.close()` stops taking requests, then these run in this order.
  closeInOrder(app, logger, [
    { name: 'health monitor', close: () => monitor.stop() },
    // Each session's browser closed, its login saved and its lease let go (postgres), in the bound.
    { name: 'sessions', close: () => manager.shutdown(config.shutdownTimeoutMs) },
    { name: 'auth store', close: () => portable?.knex.destroy() },
    // After the sessions: the worker's stop is recorded for each, the heartbeat removed.
    { name: 'history', close: () => history.stop() },
    // Anything launched while we were closing, and the earlier worker's browsers not reaped yet.
    {
      name: 'browsers left',
      close: () => {
        killProcesses(findProcesses([marker]));
        if (orphans.pids.length > 0 && lock.previousToken) killProcesses(findProcesses([markerArg(config.sessionsDir, lock.previousToken)]));
      },
    },
    { name: 'webhook dispatcher', close: () => dispatcher?.close() },
    {
      name: 'logger',
      close: async () => {
        logger.info('Stopped');
        await closeLogger(logger);
      },
    },
  ]);
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info('wa-worker listening', { host: config.host, port });
  bus.publish({ type: 'worker', at: new Date(), state: 'started' });

  monitor.start();
  // prom-client (~55 ms to load) once the API answers; events until then wait in memory.
  const metricsReady = metrics;
  setImmediate(() => metricsReady.load());
  // Launched only once the HTTP server answers, so /health works throughout.
  if (prepared) {
    const restoreStarted = Date.now();
    void runRestore(prepared, { manager, concurrency: config.restoreConcurrency, logger }).then(
      (report) => {
        metricsReady.restoreFinished(Date.now() - restoreStarted);
        logger.info('Restore finished', { restored: report.restored.length, pending: report.pending, broken: report.broken, overCapacity: report.overCapacity });
      },
      (error: unknown) => logger.error('Restore failed', { error: errorMessage(error) }),
    );
  } else if (!config.restoreOnStart) {
    logger.info('Restore on start disabled (WHATSAPP_RESTORE_ON_START=false)');
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('Shutting down', { signal });
    bus.publish({ type: 'worker', at: new Date(), state: 'stopping' });
    const hardStop = setTimeout(() => {
      killProcesses(findProcesses([marker]));
      process.exit(0);
    }, config.shutdownTimeoutMs + 5000);
    hardStop.unref();
    // Closes the server, then every resource in order (closeInOrder above).
    await app.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/**
 * WHATSAPP_AUTH_STORE=postgres: the database proven usable (else the worker does not start), and
 * the leases and saved logins over it. `managerOf` gives the manager, made after this.
 */
async function openPortableAuth(
  config: WorkerConfig,
  logger: ReturnType<typeof createLogger>,
  managerOf: () => SessionManager,
  metricsOf: () => WorkerMetrics | undefined,
) {
  if (config.authStore.kind !== 'postgres') throw new Error('not a postgres auth store');
  const { openAuthDatabase } = require('./portable/database') as typeof import('./portable/database');
  const { PortableAuth } = require('./portable/portable-auth') as typeof import('./portable/portable-auth');
  const knex = await openAuthDatabase(config.authStore.databaseUrl, config.workerId);
  const auth = new PortableAuth({
    knex,
    workerId: config.workerId,
    leaseTtlMs: config.authStore.leaseTtlMs,
    snapshotMaxBytes: config.authStore.snapshotMaxBytes,
    snapshotIntervalMs: config.authStore.snapshotIntervalMs,
    logger,
    onLeaseLost: (sessionId) => managerOf().leaseLost(sessionId),
    wantsLease: (sessionId) => managerOf().wantsLease(sessionId),
    alert: (target, kind, reason) => managerOf().alert(target.sessionId, kind, reason),
    observe: { leaseLost: (why) => metricsOf()?.leaseLost(why), authSave: (outcome) => metricsOf()?.authSave(outcome) },
  });
  return { knex, auth };
}
