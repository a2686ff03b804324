#!/usr/bin/env node
import { buildApp } from './app';
import { findChromium, markerArg } from './browser/launch';
import { findProcesses, killProcesses } from './browser/orphans';
import { loadConfig, type WorkerConfig } from './config';
import { WorkerError } from './errors';
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

function fail(message: string): never {
  process.stderr.write(`wa-worker: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let config: WorkerConfig;
  let executablePath: string;
  try {
    config = loadConfig();
    executablePath = findChromium(config.executablePath);
  } catch (error) {
    if (error instanceof WorkerError) fail(error.message);
    throw error;
  }

  const logger = createLogger({ logDir: config.logDir, level: config.logLevel, console: true });
  installCrashPolicy(logger);

  // Chromium of an earlier worker on these sessions (it was SIGKILLed while using WebSockets, or
  // its pipes have not closed yet) would hold the profiles: it goes first.
  const orphans = killProcesses(findProcesses([markerArg(config.sessionsDir)]));
  if (orphans.length > 0) logger.warn('Killed orphaned Chromium processes of an earlier worker', { pids: orphans });

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
      killProcesses(findProcesses([markerArg(config.sessionsDir)]));
      process.exit(0);
    }, config.shutdownTimeoutMs + 5000);
    hardStop.unref();
    await app.close().catch(() => undefined);
    await monitor.stop();
    await manager.shutdown(config.shutdownTimeoutMs);
    // Anything launched while we were closing.
    killProcesses(findProcesses([markerArg(config.sessionsDir)]));
    if (events instanceof WebhookDispatcher) await events.close();
    logger.info('Stopped');
    await closeLogger(logger);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`wa-worker: ${errorMessage(error)}\n`);
  process.exit(1);
});
