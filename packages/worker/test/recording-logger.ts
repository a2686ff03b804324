import { Writable } from 'node:stream';
import winston from 'winston';

/** A logger keeping what it was given, each entry as winston's info object, for tests to read. */
export function recordingLogger(): { logger: winston.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    objectMode: true,
    write(info: Record<string, unknown>, _encoding, next) {
      lines.push(info);
      next();
    },
  });
  return { logger: winston.createLogger({ transports: [new winston.transports.Stream({ stream })] }), lines };
}
