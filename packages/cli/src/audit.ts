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
  /** `written`, `reconnected`, `reconnect_failed`, `backed_off`, `given_up`, `conflict`... */
  result: string;
  error?: string;
}

/** Winston JSON lines appended to a file; `close()` resolves once every line is on disk. */
export class AuditLog {
  private readonly stream: fs.WriteStream;
  private readonly transport: winston.transport;
  private readonly logger: winston.Logger;

  private constructor(readonly file: string) {
    this.stream = fs.createWriteStream(file, { flags: 'a' });
    this.transport = new winston.transports.Stream({ stream: this.stream });
    this.logger = winston.createLogger({
      level: 'info',
      format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
      defaultMeta: { component: 'wa-sync' },
      transports: [this.transport],
    });
  }

  static async open(file: string): Promise<AuditLog> {
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const log = new AuditLog(file);
    await once(log.stream, 'open');
    return log;
  }

  record(runId: string, entry: AuditEntry): void {
    this.logger.info('sync action', { run_id: runId, ...entry });
  }

  async close(): Promise<void> {
    const transportDone = once(this.transport, 'finish');
    this.logger.end();
    await transportDone;
    this.stream.end();
    await once(this.stream, 'close');
  }
}
