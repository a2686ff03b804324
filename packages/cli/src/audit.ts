import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

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
  /** The row's `metadata` before the run, when the run had to replace it (it was not a JSON object). */
  previous_metadata?: unknown;
}

/**
 * The audit log: JSON lines (`level`, `message`, `component`, `run_id`, the entry, `timestamp`)
 * appended to a file, one per action, written once from the run's final results in a single
 * append: a run records up to thousands of lines within milliseconds, and one append is both
 * faster than a write per line and never interleaved with another process's lines. Written by
 * hand: a logging library's part here would only be formatting, and loading one cost ~65 ms of
 * every start of the CLI. A run with nothing to record leaves no file.
 */
export class AuditLog {
  private constructor(readonly file: string) {}

  /**
   * Makes the folder and proves the file can be appended to (opened for appending when it exists,
   * its folder writable when not), so that a run whose audit log cannot be written stops before it
   * sends or writes anything. The file itself is still made only by the first line written.
   */
  static async open(file: string): Promise<AuditLog> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    try {
      // Without O_CREAT: an existing file is opened (the kernel checks the right to append), a
      // missing one is ENOENT and left for the first line to make.
      await (await fs.open(file, fsConstants.O_WRONLY | fsConstants.O_APPEND)).close();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await fs.access(path.dirname(file), fsConstants.W_OK);
    }
    return new AuditLog(file);
  }

  /** Appends the run's lines; nothing (no file) when there are none. */
  async write(runId: string, entries: readonly AuditEntry[], now: () => Date = () => new Date()): Promise<void> {
    if (entries.length === 0) return;
    const lines = entries.map((entry) =>
      JSON.stringify({ level: 'info', message: 'sync action', component: 'wa-sync', run_id: runId, ...entry, timestamp: now().toISOString() }),
    );
    await fs.appendFile(this.file, `${lines.join('\n')}\n`, { mode: 0o640 });
  }
}
