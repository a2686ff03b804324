import type { CliIo } from './cli';
import type { DatabaseConfig, SyncConfig } from './config';
import { openDatabase } from './db/knex';
import { migrateToLatest } from '@wa-session-sync/shared/dist/db/migrations';
import { isWaSyncError } from './errors';
import type { RunResult } from './sync/metrics-file';

// The commands' handlers: a library call with the resolved config, its result onto the streams.
// `cli.ts` loads this module only once a command is about to run with a valid configuration, so
// that `--help`, `--version`, argument and configuration errors never load the database driver,
// the worker client or TypeBox; the sync's own modules (the worker client with its compiled
// validators, the report) are loaded by `sync-sessions` alone. A handler that cannot do its work
// throws; `cli.ts` turns the error into one line and an exit code.

export async function syncSessions(config: SyncConfig, io: CliIo): Promise<void> {
  const { runSync } = require('./sync/run') as typeof import('./sync/run');
  const { renderReport, reportJson } = require('./sync/report') as typeof import('./sync/report');
  const startedAt = Date.now();
  let outcome: Awaited<ReturnType<typeof runSync>>;
  try {
    outcome = await runSync(config);
  } catch (error) {
    // A run that could not sync (exit 1) is recorded; a configuration error (exit 2, such as an
    // audit log that cannot be written) is no run, and the file keeps the last one.
    if (!isWaSyncError(error) || error.exitCode === 1) await recordRun(config, io, { outcome: 'failed' }, startedAt);
    throw error;
  }
  if (outcome.kind === 'skipped') {
    await recordRun(config, io, { outcome: 'skipped' }, startedAt);
    if (config.json) io.stdout.write(`${JSON.stringify({ ok: true, skipped: true, reason: outcome.reason })}\n`);
    else io.stdout.write(`⏭️  Sync skipped: ${outcome.reason}\n`);
    return;
  }
  const { summary } = outcome.report;
  await recordRun(
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
  for (const warning of outcome.report.warnings) io.stderr.write(`wa-sync: warning: ${warning}\n`);
  if (config.json) io.stdout.write(`${JSON.stringify(reportJson(outcome.report))}\n`);
  else io.stdout.write(renderReport(outcome.report, { color: config.color }));
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
