import fs from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import winston from 'winston';
import TransportStream from 'winston-transport';

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

/** winston's key for the formatted line (triple-beam's MESSAGE). */
const MESSAGE = Symbol.for('message');

/**
 * A winston transport that keeps the run's formatted lines and appends them to the file in
 * one write when the logger ends: a run logs up to thousands of lines within milliseconds,
 * and one append is both faster than a write per line and never interleaved with another
 * process's lines.
 */
class RunFileTransport extends TransportStream {
  readonly lines: { session_id: unknown; replaces: boolean; line: string }[] = [];

  override log(info: Record<PropertyKey, unknown>, callback: () => void): void {
    this.lines.push({ session_id: info.session_id, replaces: info[REPLACES] === true, line: String(info[MESSAGE]) });
    callback();
  }

  /** The lines to write: a replacing line stands instead of the earlier ones of its session. */
  final(): string[] {
    const replaced = new Set(this.lines.filter((l) => l.replaces).map((l) => l.session_id));
    return this.lines.filter((l) => l.replaces || !replaced.has(l.session_id)).map((l) => l.line);
  }
}

/**
 * winston's `combine(timestamp(), json())` with the native `JSON.stringify`: audit entries are
 * plain data (no cycles, no BigInt), and a run formats up to thousands of them.
 */
const jsonLine = winston.format((info) => {
  info.timestamp = new Date().toISOString();
  (info as Record<PropertyKey, unknown>)[MESSAGE] = JSON.stringify(info);
  return info;
});

/** Marks a line that replaces the run's earlier line for the same session (not written out). */
const REPLACES = Symbol('replaces');

/**
 * The audit log: winston JSON lines appended to a file, one per action. The file is created
 * with the first line only, so a run with nothing to record leaves no trace; `close()`
 * resolves once every line is on disk.
 */
export class AuditLog {
  private readonly transport = new RunFileTransport();
  private readonly logger = winston.createLogger({
    level: 'info',
    format: jsonLine(),
    defaultMeta: { component: 'wa-sync' },
    transports: [this.transport],
  });
  private closed = false;

  private constructor(readonly file: string) {}

  /** Makes the folder, so that a bad path fails before the run acts. */
  static async open(file: string): Promise<AuditLog> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    return new AuditLog(file);
  }

  record(runId: string, entry: AuditEntry): void {
    this.logger.info('sync action', { run_id: runId, ...entry });
  }

  /** Records `entry` instead of the line recorded earlier in this run for the same session. */
  replace(runId: string, entry: AuditEntry): void {
    this.logger.info('sync action', { run_id: runId, ...entry, [REPLACES]: true });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const finished = once(this.transport, 'finish');
    this.logger.end();
    await finished;
    const lines = this.transport.final();
    if (lines.length > 0) await fs.appendFile(this.file, `${lines.join('\n')}\n`);
  }
}
