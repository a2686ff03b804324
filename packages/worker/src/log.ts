import fs from 'node:fs';
import path from 'node:path';
import winston from 'winston';

export type Logger = winston.Logger;

export interface LoggerOptions {
  logDir: string;
  level: string;
  /** Also write to stdout (the bin does; tests do not). */
  console?: boolean;
}

/** winston JSON lines in `<logDir>/whatsapp-service.log` (the seed system's file name). */
export function createLogger(options: LoggerOptions): Logger {
  fs.mkdirSync(options.logDir, { recursive: true });
  const transports: winston.transport[] = [
    new winston.transports.File({ filename: path.join(options.logDir, 'whatsapp-service.log') }),
  ];
  if (options.console) transports.push(new winston.transports.Console());
  return winston.createLogger({
    level: options.level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports,
  });
}

/** A logger that writes nowhere (unit tests). */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console()] });
}

const closing = new WeakMap<Logger, Promise<void>>();

/**
 * Flushes the file transports (before the process exits). Calling it again waits for the same
 * flush. Lines logged after this call are dropped: a late callback (a restore settling during
 * shutdown) must not crash the process with a stream's "write after end".
 */
export function closeLogger(logger: Logger): Promise<void> {
  let done = closing.get(logger);
  if (!done) {
    done = new Promise((resolve) => {
      logger.on('finish', () => setTimeout(resolve, 50));
      logger.end();
      logger.write = () => true;
    });
    closing.set(logger, done);
  }
  return done;
}
