import type { CliIo } from './cli';
import type { DatabaseConfig, DrainConfig, SyncConfig } from './config';
import { openDatabase } from './db/knex';
import { migrateToLatest } from '@wa-session-sync/shared/dist/db/migrations';
import { isWaSyncError } from './errors';
import type { RunResult } from './sync/metrics-file';
import type { SyncReport } from './sync/outcome';

// The commands' handlers: a library call with the resolved config, its result onto the streams.
// `cli.ts` loads this module only once a command is about to run with a valid configuration, so
// that `--help`, `--version`, argument and configuration errors never load the database driver,
// the worker client or TypeBox; the sync's own modules (the worker client with its compiled
// validators, the report) are loaded by `sync-sessions` alone. A handler that cannot do its work
// throws; `cli.ts` turns the error into one line and an exit code.

/** One run of `sync-sessions`; resolves to its exit code (a fleet with no worker answering: 1, its report printed). */
export async function syncSessions(config: SyncConfig, io: CliIo): Promise<number> {
  if (config.fleet) return syncFleet(config, io);
  const { runSync } = require('./sync/run') as typeof import('./sync/run');
  const { renderReport, reportJson } = require('./sync/report') as typeof import('./sync/report');
  const startedAt = Date.now();
  const outcome = await runRecorded(config, io, () => runSync(config), startedAt);
  if (!outcome) return 0;
  await recordSynced(config, io, outcome.report.summary, startedAt);
  for (const warning of outcome.report.warnings) io.stderr.write(`wa-sync: warning: ${warning}\n`);
  if (config.json) io.stdout.write(`${JSON.stringify(reportJson(outcome.report))}\n`);
  else io.stdout.write(renderReport(outcome.report, { color: config.color }));
  return 0;
}

/**
 * `sync-sessions --watch`: runs until SIGTERM/SIGINT, which end it after the current run (exit 0).
 * `onError` reports a run that threw, as a single run's error would be, and gives its exit code.
 */
export async function watchSyncSessions(config: SyncConfig, io: CliIo, onError: (error: unknown) => number): Promise<number> {
  const { watch, stopOnSignals } = require('./watch') as typeof import('./watch');
  const stop = stopOnSignals();
  try {
    return await watch(() => syncSessions(config, io), { intervalMs: config.watchSeconds! * 1_000, stop: stop.signal, onError });
  } finally {
    stop.dispose();
  }
}

/** `sync-sessions` over `WHATSAPP_NODE_SERVICE_URLS`: placement, moves and `worker_id`, then the sync's report. */
async function syncFleet(config: SyncConfig, io: CliIo): Promise<number> {
  const { runFleetSync } = require('./fleet/run') as typeof import('./fleet/run');
  const { renderReport, reportJson } = require('./sync/report') as typeof import('./sync/report');
  const { renderFleetRun } = require('./fleet/report') as typeof import('./fleet/report');
  const startedAt = Date.now();
  const outcome = await runRecorded(config, io, () => runFleetSync(config), startedAt);
  if (!outcome) return 0;
  const { report } = outcome;
  if (outcome.allDown) {
    // No worker answered: as the single worker's run, nothing was sent or written, and exit 1.
    await recordRun(config, io, { outcome: 'failed' }, startedAt);
    const message = `no worker of the fleet answered (${report.fleet.unreachable.map((w) => `${w.url}: ${w.error}`).join('; ')})`;
    io.stderr.write(`wa-sync: ${message} [FLEET_DOWN]\n`);
    if (config.json) io.stdout.write(`${JSON.stringify({ ok: false, error: { code: 'FLEET_DOWN', message }, fleet: report.fleet })}\n`);
    else io.stdout.write(`${renderFleetRun(outcome.plan, report.fleet, { color: config.color }).join('\n')}\n`);
    return 1;
  }
  await recordSynced(config, io, report.summary, startedAt);
  for (const warning of report.warnings) io.stderr.write(`wa-sync: warning: ${warning}\n`);
  if (config.json) io.stdout.write(`${JSON.stringify(reportJson(report))}\n`);
  else io.stdout.write(`${renderFleetRun(outcome.plan, report.fleet, { color: config.color }).join('\n')}\n${renderReport(report, { color: config.color })}`);
  return 0;
}

/**
 * One sync run (one worker's or a fleet's) as the metrics file and the output see it: a run that
 * could not sync (exit 1) is recorded as failed; a configuration error (exit 2, such as an audit
 * log that cannot be written) is no run, and the file keeps the last one. A run skipped because
 * another holds the lock is recorded and said, and resolves null (exit 0).
 */
async function runRecorded<T extends { kind: string }>(
  config: SyncConfig,
  io: CliIo,
  run: () => Promise<T>,
  startedAt: number,
): Promise<Exclude<T, { kind: 'skipped' }> | null> {
  let outcome: T;
  try {
    outcome = await run();
  } catch (error) {
    if (!isWaSyncError(error) || error.exitCode === 1) await recordRun(config, io, { outcome: 'failed' }, startedAt);
    throw error;
  }
  if (outcome.kind !== 'skipped') return outcome as Exclude<T, { kind: 'skipped' }>;
  const { reason } = outcome as unknown as { reason: string };
  await recordRun(config, io, { outcome: 'skipped' }, startedAt);
  if (config.json) io.stdout.write(`${JSON.stringify({ ok: true, skipped: true, reason })}\n`);
  else io.stdout.write(`⏭️  Sync skipped: ${reason}\n`);
  return null;
}

/**
 * Writes `WA_SYNC_METRICS_FILE` for this run, when set. A dry run sends and writes nothing, this
 * file included (it did not sync, and must not move the last success). A file that cannot be
 * written is a warning: the run's outcome, and its exit code, stand.
 */
async function recordRun(config: SyncConfig, io: CliIo, run: RunResult, startedAt: number): Promise<void> {
  if (!config.metricsFile || config.dryRun) return;
  const { writeSyncMetrics } = require('./sync/metrics-file') as typeof import('./sync/metrics-file');
  const endedAt = Date.now();
  try {
    await writeSyncMetrics(config.metricsFile, run, endedAt, endedAt - startedAt);
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    io.stderr.write(`wa-sync: warning: the metrics file ${config.metricsFile} could not be written (${why})\n`);
  }
}

export async function migrate(config: DatabaseConfig, io: CliIo): Promise<void> {
  const db = await openDatabase(config);
  try {
    const applied = db.embedded ? db.migrated : await migrateToLatest(db.knex);
    io.stdout.write(
      applied.length === 0 ? `Schema is up to date (${config.label})\n` : `Applied ${applied.join(', ')} (${config.label})\n`,
    );
  } finally {
    await db.close();
  }
}

/** `wa-sync drain <worker_id>`: see `fleet/drain.ts`. */
export async function drain(config: DrainConfig, workerId: string, io: CliIo): Promise<number> {
  const { drainWorker } = require('./fleet/drain') as typeof import('./fleet/drain');
  return drainWorker(config, workerId, io);
}

/** `wa-sync undrain <worker_id>`: the worker takes new sessions again. */
export async function undrain(config: DrainConfig, workerId: string, io: CliIo): Promise<number> {
  const { undrainWorker } = require('./fleet/drain') as typeof import('./fleet/drain');
  return undrainWorker(config, workerId, io);
}

/** Records a run that synced (the metrics textfile), with its counts, for one worker or a fleet. */
function recordSynced(config: SyncConfig, io: CliIo, summary: SyncReport['summary'], startedAt: number): Promise<void> {
  return recordRun(
    config,
    io,
    {
      outcome: 'synced',
      counts: {
        mismatches: summary.mismatches,
        reconnected: summary.reconnected,
        reconnectFailed: summary.reconnect_failed,
        givenUp: summary.given_up,
        unknownSessions: summary.unknown_worker_sessions,
      },
    },
    startedAt,
  );
}
