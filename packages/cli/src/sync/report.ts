import type { ChalkInstance } from 'chalk';
import type { MismatchReport, SyncReport } from './outcome';

const RULE = '='.repeat(60);

/**
 * Characters a terminal acts on instead of printing: C0 and C1 controls (an ESC starts a sequence
 * that can retitle or clear the terminal), DEL, the line and paragraph separators, and the
 * bidirectional overrides and isolates (text that reads other than it is).
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every {@link UNPRINTABLE} character written as a visible escape (`\x1b`, `\u202e`). */
export function escapeUnprintable(text: string): string {
  return text.replace(UNPRINTABLE, (ch) => {
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Every string of `value`, deeply, escaped: what the database and the worker said is printed, never obeyed. */
function escapeStrings<T>(value: T): T {
  if (typeof value === 'string') return escapeUnprintable(value) as T;
  if (Array.isArray(value)) return value.map(escapeStrings) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, escapeStrings(item)])) as T;
  }
  return value;
}

/**
 * The seed document's report, as text. Colour only when asked (a TTY without NO_COLOR). Every
 * string of the report is escaped first (`escapeUnprintable`): session ids, phone numbers, errors
 * and reasons come from the accounts table and the worker. `--json` needs nothing: JSON escapes them.
 */
export function renderReport(unsafe: SyncReport, options: { color: boolean }): string {
  const report = escapeStrings(unsafe);
  // Loaded here, not with the module: a `--json` run never needs it.
  const { Chalk } = require('chalk') as typeof import('chalk');
  const c = new Chalk({ level: options.color ? 1 : 0 });
  const lines: string[] = [];
  const out = (line = '') => lines.push(line);

  out(`🔄 Starting WhatsApp session synchronization...${report.dry_run ? c.yellow(' (dry run: nothing is sent or written)') : ''}`);
  out(c.green(`✅ Worker is healthy (uptime: ${Math.round(report.worker.uptime)}s) at ${report.worker.url}`));
  out(`   Sessions in worker: ${report.worker.total} total, ${report.worker.connected} connected`);
  out();
  out(c.bold('📊 Database Analysis:'));
  const scope = report.workspace_id === null ? '' : ` in workspace ${report.workspace_id}`;
  out(`   Sessions in database: ${report.database.active_accounts} active${scope} (${report.database.label})`);
  out();

  const blocks = report.mismatches.filter((m) => m.result !== 'backed_off' && m.result !== 'given_up');
  for (const m of blocks) {
    out(c.yellow('⚠️  Mismatch found:'));
    out(`   Session ID: ${m.session_id}`);
    out(`   Phone: ${m.phone_number ?? 'unknown'}`);
    out(`   Database status: ${m.database_status}`);
    out(`   Worker status: ${m.worker_status ?? 'not found'}`);
    for (const line of outcomeLines(m, report, c)) out(`   ${line}`);
    if (m.metadata_replaced) {
      const line =
        m.result === 'planned'
          ? "⚠️  Metadata is not a JSON object: the write would replace it with one holding the sync's keys"
          : "⚠️  Metadata was not a JSON object: replaced with one holding the sync's keys (the old value is in the audit log)";
      out(`   ${c.yellow(line)}`);
    }
    out();
  }
  if (report.mismatches.length === 0) {
    out(c.green('✅ No mismatches found'));
    out();
  }

  section(out, c, '⏸️  Reconnect backed off (waiting for the next attempt):', report.mismatches.filter((m) => m.result === 'backed_off'), (m) =>
    `${m.session_id}: ${m.database_status} / worker ${m.worker_status ?? 'not found'}, ${m.reconnect_attempts ?? 0} of ${report.reconnect_policy.max_attempts} attempts, next not before ${m.next_reconnect_at ?? 'now'}`,
  );
  section(out, c, '🛑 Given up (a person must reconnect these):', report.mismatches.filter((m) => m.result === 'given_up'), (m) =>
    `${m.session_id}: ${m.database_status} / worker ${m.worker_status ?? 'not found'}, ${m.reconnect_attempts ?? 0} attempts failed`,
  );
  section(out, c, '❓ Sessions the worker runs that the database does not know (left alone):', report.unknown_worker_sessions, (s) =>
    `${s.session_id} (workspace ${s.workspace_id}): ${s.status}`,
  );
  section(out, c, '🚫 Worker entries skipped as invalid (never written):', report.invalid_worker_sessions, (s) =>
    `${s.session_id ?? '(no id)'}: ${s.reason}`,
  );
  section(out, c, '🚫 Accounts skipped as invalid (never sent, never written):', report.invalid_accounts, (a) =>
    `${a.session_id} (workspace ${a.workspace_id}): ${a.reason}`,
  );
  section(out, c, '🚫 Worker values ignored (the entry was used, the value treated as unknown):', report.invalid_worker_values, (v) =>
    `${v.session_id}: ${v.field} ${v.value}: ${v.reason}`,
  );

  const s = report.summary;
  out(RULE);
  out(c.bold(`📈 Synchronization Summary:${report.dry_run ? ' (dry run)' : ''}`));
  out(`   Mismatches found: ${s.mismatches}`);
  out(`   Sessions reconnected: ${s.reconnected}`);
  out(`   Statuses updated: ${s.statuses_updated}`);
  out(`   Reconnects failed: ${s.reconnect_failed}`);
  out(`   Reconnects backed off: ${s.backed_off}`);
  out(`   Reconnects given up: ${s.given_up}`);
  out(`   Unknown to the database: ${s.unknown_worker_sessions}`);
  out(`   Invalid worker entries: ${s.invalid_worker_sessions}`);
  if (s.invalid_worker_values > 0) out(`   Invalid worker values: ${s.invalid_worker_values}`);
  if (s.invalid_accounts > 0) out(`   Invalid accounts skipped: ${s.invalid_accounts}`);
  if (s.conflicts > 0) out(`   Skipped (row changed meanwhile): ${s.conflicts}`);
  out(RULE);
  return `${lines.join('\n')}\n`;
}

function section<T>(out: (line?: string) => void, c: ChalkInstance, title: string, items: T[], line: (item: T) => string): void {
  if (items.length === 0) return;
  out(c.yellow(title));
  for (const item of items) out(`   ${line(item)}`);
  out();
}

function outcomeLines(m: MismatchReport, report: SyncReport, c: ChalkInstance): string[] {
  const verb = m.action === 'start' ? 'start the session' : 'reconnect the session';
  const attempt = `attempt ${m.reconnect_attempts ?? 1} of ${report.reconnect_policy.max_attempts}`;
  switch (m.result) {
    case 'planned':
      if (m.action === 'start' || m.action === 'reconnect') return [`📝 Would ask the worker to ${verb} (dry run)`];
      return [`📝 Would set the status to ${m.new_status ?? m.database_status} (dry run)`];
    case 'reconnected':
      return ['🔄 Attempting auto-reconnect...', c.green(`✅ Reconnection initiated successfully (${verb}; now ${m.new_status}, ${attempt})`)];
    case 'reconnect_failed':
      return [
        '🔄 Attempting auto-reconnect...',
        c.red(`❌ Reconnect failed: ${m.error}; status ${m.new_status} (${attempt}, next not before ${m.next_reconnect_at})`),
      ];
    case 'status_updated':
      return [c.cyan(`📝 Status updated: ${m.database_status} → ${m.new_status}`)];
    case 'metadata_updated':
      return [`📝 Recorded in metadata; status stays ${m.new_status ?? m.database_status}`];
    case 'conflict':
      return [c.yellow('⏭️  Skipped: the row changed during the sync (the next run decides)')];
    default:
      return [];
  }
}

/** The `--json` object: the same facts as the text report. */
export function reportJson(report: SyncReport): Record<string, unknown> {
  return { ok: true, skipped: false, ...report };
}
