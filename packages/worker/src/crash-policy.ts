import type { EventEmitter } from 'node:events';
import { closeLogger, type Logger } from './log';
import { errorMessage } from './util';

/**
 * Errors puppeteer / whatsapp-web.js raise in the background when a browser goes away under them
 * (TargetCloseError while the library re-injects after a navigation, EPIPE on a dead pipe). They
 * concern one session, which the manager already handles; they must not take the others down.
 */
export function isBrowserNoise(error: unknown): boolean {
  const e = error as { name?: string; code?: string; message?: string } | null;
  if (!e) return false;
  if (e.name === 'TargetCloseError' || e.name === 'ProtocolError' || e.name === 'TimeoutError') return true;
  if (e.code === 'EPIPE' || e.code === 'ECONNRESET' || e.code === 'ERR_STREAM_DESTROYED') return true;
  return /Target closed|Session closed|Protocol error|Execution context was destroyed|detached Frame|Connection closed/i.test(e.message ?? '');
}

/**
 * The process-wide policy: unhandled rejections and browser noise are logged and survived;
 * any other uncaught exception leaves the process in an unknown state, so it is logged and the
 * worker exits 1 (the next start restores every session).
 */
export function installCrashPolicy(
  logger: Logger,
  target: Pick<EventEmitter, 'on'> = process,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  target.on('unhandledRejection', (reason: unknown) => {
    logger.warn('Unhandled rejection', { error: errorMessage(reason) });
  });
  target.on('uncaughtException', (error: Error) => {
    if (isBrowserNoise(error)) {
      logger.warn('Uncaught browser error', { error: errorMessage(error) });
      return;
    }
    logger.error('Uncaught exception, exiting', { error: errorMessage(error), stack: error.stack });
    void closeLogger(logger).finally(() => exit(1));
  });
}
