import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import winston from 'winston';

/** One line per action of a run. */
export interface AuditEntry {
  session_id: string;
  workspace_id: string;
  action: string;
  before: { status: string; phone_number: string | null };
  after: { status: string; phone_number: string | null } | null;
  /** `status_updated`, `reconnected`, `reconnect_failed`, `backed_off`, `given_up`, `conflict`... */
  result: string;
  error?: string;
}

interface Sink {
  stream: fs.WriteStream;
  transport: winston.transport;
  logger: winston.Logger;
}

/**
 * Winston JSON lines appended to a file. The file is created on the first line only, so a run
 * with nothing to record leaves no trace; `close()` resolves once every line is on disk.
 */
export class AuditLog {
  private sink: Sink | undefined;

  private constructor(readonly file: string) {}

  /** Makes the folder (so a bad path fails before the run acts); the file comes with the first line. */
  static async open(file: string): Promise<AuditLog> {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    return new AuditLog(file);
  }

  record(runId: string, entry: AuditEntry): void {
    this.sink ??= this.openSink();
    this.sink.logger.info('sync action', { run_id: runId, ...entry });
  }

  async close(): Promise<void> {
    const sink = this.sink;
    if (!sink) return;
    this.sink = undefined;
    const transportDone = once(sink.transport, 'finish');
    sink.logger.end();
    await transportDone;
    sink.stream.end();
    await once(sink.stream, 'close');
  }

  private openSink(): Sink {
    const stream = fs.createWriteStream(this.file, { flags: 'a' });
    const transport = new winston.transports.Stream({ stream });
    const logger = winston.createLogger({
      level: 'info',
      format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
      defaultMeta: { component: 'wa-sync' },
      transports: [transport],
    });
    return { stream, transport, logger };
  }
}
