import fs from 'node:fs/promises';
import path from 'node:path';
// The metrics module alone, not the package's index (which loads TypeBox).
import { SYNC_METRICS, type SyncMetricName } from '@wa-session-sync/shared/dist/metrics';

/** What a run ended as, for the metrics file: exit 0 having synced, skipped (lock held), or exit 1. */
export type RunResult =
  | { outcome: 'synced'; counts: SyncCounts }
  | { outcome: 'skipped' }
  | { outcome: 'failed' };

/** The counts of a run that synced. */
export interface SyncCounts {
  mismatches: number;
  reconnected: number;
  reconnectFailed: number;
  givenUp: number;
  unknownSessions: number;
}

/** The metrics a failed or skipped run keeps from the file before it: they describe the last run that synced. */
const CARRIED: readonly SyncMetricName[] = [
  'wa_sync_last_success_timestamp_seconds',
  'wa_sync_last_run_mismatches',
  'wa_sync_last_run_reconnected',
  'wa_sync_last_run_reconnect_failed',
  'wa_sync_last_run_given_up',
  'wa_sync_last_run_unknown_sessions',
];

/**
 * The textfile of one run (node_exporter's textfile collector, Prometheus' text format 0.0.4):
 * HELP and TYPE lines, then one sample per metric, in the order of `SYNC_METRICS`.
 * `previous` holds the values of the file before (see {@link parseSyncMetrics}); a failed or skipped
 * run carries the last success's timestamp and counts over from it, and leaves out what it has
 * not (the metric is then absent: a sync that never succeeded raises the alert on its absence).
 * Pure: the clock comes in as `endedAtMs` and `durationMs`.
 *
 * Written by hand rather than with prom-client's registry: ten label-free gauges need no escaping,
 * and the registry would be one more module to load in every cron run.
 */
export function renderSyncMetrics(run: RunResult, endedAtMs: number, durationMs: number, previous: ReadonlyMap<string, number>): string {
  const values = new Map<SyncMetricName, number>();
  values.set('wa_sync_last_run_timestamp_seconds', endedAtMs / 1000);
  values.set('wa_sync_last_run_duration_seconds', durationMs / 1000);
  values.set('wa_sync_last_run_success', run.outcome === 'synced' ? 1 : 0);
  values.set('wa_sync_last_run_skipped', run.outcome === 'skipped' ? 1 : 0);
  if (run.outcome === 'synced') {
    values.set('wa_sync_last_success_timestamp_seconds', endedAtMs / 1000);
    values.set('wa_sync_last_run_mismatches', run.counts.mismatches);
    values.set('wa_sync_last_run_reconnected', run.counts.reconnected);
    values.set('wa_sync_last_run_reconnect_failed', run.counts.reconnectFailed);
    values.set('wa_sync_last_run_given_up', run.counts.givenUp);
    values.set('wa_sync_last_run_unknown_sessions', run.counts.unknownSessions);
  } else {
    for (const name of CARRIED) {
      const value = previous.get(name);
      if (value !== undefined) values.set(name, value);
    }
  }
  let text = '';
  for (const [name, spec] of Object.entries(SYNC_METRICS) as [SyncMetricName, (typeof SYNC_METRICS)[SyncMetricName]][]) {
    const value = values.get(name);
    if (value === undefined) continue;
    text += `# HELP ${name} ${spec.help}\n# TYPE ${name} ${spec.type}\n${name} ${formatValue(value)}\n`;
  }
  return text;
}

/** Millisecond precision at most, without trailing zeros (`1796812345.5`, `0`, `12`). */
function formatValue(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}

/**
 * The `wa_sync_*` samples of a textfile this CLI wrote: name to value. Lines that are not a
 * label-free sample with a finite value (comments, anything a person added) are ignored, so a
 * damaged file loses what it lost and nothing more.
 */
export function parseSyncMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const sample = /^(wa_sync_[a-z_]+)\s+(\S+)\s*$/.exec(line);
    if (!sample) continue;
    const value = Number(sample[2]);
    if (Number.isFinite(value)) values.set(sample[1], value);
  }
  return values;
}

/**
 * Writes the run's metrics to `file` atomically: a temporary file in the same folder, renamed over
 * it, so node_exporter never reads half a file (its collector reads only `*.prom`, and the
 * temporary name does not end so). Mode 0644: the file holds no secret, and node_exporter often
 * runs as another user. Throws when it cannot; the caller turns that into a warning.
 */
export async function writeSyncMetrics(file: string, run: RunResult, endedAtMs: number, durationMs: number): Promise<void> {
  let previous = new Map<string, number>();
  try {
    previous = parseSyncMetrics(await fs.readFile(file, 'utf8'));
  } catch (error) {
    // No file yet is the first run; an unreadable one is replaced, with nothing carried over.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
  }
  const text = renderSyncMetrics(run, endedAtMs, durationMs, previous);
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await fs.writeFile(temporary, text, { mode: 0o644 });
    // The mode given to writeFile is narrowed by the umask; the file is meant to be world-readable.
    await fs.chmod(temporary, 0o644);
    await fs.rename(temporary, file);
  } catch (error) {
    await fs.rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
}
