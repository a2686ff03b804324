import { buildApp } from './app';
import { markerArg } from './browser/launch';
import { findProcesses, killProcesses, type MatchedProcess } from './browser/orphans';
import type { WorkerConfig } from './config';
import { nullSink, WebhookDispatcher } from './events/webhook';
import { installCrashPolicy } from './crash-policy';
import { closeLogger, createLogger } from './log';
import { SessionManager } from './sessions/manager';
import { HealthMonitor } from './sessions/probe';
import { restoreSessions } from './sessions/restore';
import { errorMessage } from './sessions/timeout';
import { WwebjsDriver } from './sessions/wwebjs-driver';

/**
 * Niceness of every Chromium after launch: browsers yield the CPU to the worker's event loop, so
 * the HTTP API stays responsive while sessions restore (Chromium raises its own main threads to
 * nice -8 when run as root). Not an environment variable on purpose: no operator should need it.
 */
const BROWSER_NICE = 10;

/**
 * How long the Chromium of an earlier worker may take to close by itself before it is killed.
 * A session being restored waits for the one on its profile less long (the manager's bound).
 */
const ORPHAN_GRACE_MS = 5000;

/** The worker proper: logger, sessions, HTTP API, restore, signals. `main` loads it once the cheap checks are done. */
export async function runWorker(config: WorkerConfig, executablePath: string, orphans: readonly MatchedProcess[]): Promise<void> {
  const logger = createLogger({ logDir: config.logDir, level: config.logLevel, console: true });
  installCrashPolicy(logger);
  const marker = markerArg(config.sessionsDir);

  // Chromium of an earlier worker (it died, and its browsers' pipes closed): each closes by itself,
  // saving its profile. Left to finish (a restore waits for the one on its profile), and killed
  // only if still there after the grace (hung, or started with another transport).
  if (orphans.length > 0) {
    logger.warn('Chromium of an earlier worker still closing; killed if not gone within the grace', { pids: orphans.map((o) => o.pid), graceMs: ORPHAN_GRACE_MS });
    setTimeout(() => {
      const left = findProcesses([marker]).filter((p) => orphans.some((o) => o.pid === p.pid && o.startTicks === p.startTicks));
      const killed = killProcesses(left);
      if (killed.length > 0) logger.warn('Killed orphaned Chromium processes of an earlier worker', { pids: killed });
    }, ORPHAN_GRACE_MS).unref();
  }

  const events = config.webhookUrl
    ? new WebhookDispatcher({ url: config.webhookUrl, secret: config.webhookSecret ?? '', logger, retryBaseMs: config.webhookRetryBaseMs })
    : nullSink;
  const manager = new SessionManager({
    sessionsDir: config.sessionsDir,
    driver: new WwebjsDriver({
      executablePath,
      sessionsDir: config.sessionsDir,
      browserArgs: config.browserArgs,
      webVersionCache: config.webVersionCache,
      browserNice: BROWSER_NICE,
    }),
    logger,
    events,
    autoReconnect: config.autoReconnect,
    maxReconnectAttempts: config.maxReconnectAttempts,
    reconnectBaseDelayMs: config.reconnectBaseDelayMs,
    reconnectMaxDelayMs: config.reconnectMaxDelayMs,
    probeTimeoutMs: config.probeTimeoutMs,
    initTimeoutMs: config.initTimeoutMs,
  });
  const app = await buildApp({ apiKey: config.apiKey, manager, logger });
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info('wa-worker listening', { host: config.host, port });

  const monitor = new HealthMonitor(manager, config.healthCheckIntervalSec, logger);
  monitor.start();
  // Restore only once the HTTP server answers, so /health works throughout.
  if (config.restoreOnStart) {
    void restoreSessions({ manager, sessionsDir: config.sessionsDir, concurrency: config.restoreConcurrency, logger }).then(
      (report) => logger.info('Restore finished', { restored: report.restored.length, pending: report.pending, broken: report.broken }),
      (error: unknown) => logger.error('Restore failed', { error: errorMessage(error) }),
    );
  } else {
    logger.info('Restore on start disabled (WHATSAPP_RESTORE_ON_START=false)');
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('Shutting down', { signal });
    const hardStop = setTimeout(() => {
      killProcesses(findProcesses([marker]));
      process.exit(0);
    }, config.shutdownTimeoutMs + 5000);
    hardStop.unref();
    await app.close().catch(() => undefined);
    await monitor.stop();
    await manager.shutdown(config.shutdownTimeoutMs);
    // Anything launched while we were closing.
    killProcesses(findProcesses([marker]));
    if (events instanceof WebhookDispatcher) await events.close();
    logger.info('Stopped');
    await closeLogger(logger);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
