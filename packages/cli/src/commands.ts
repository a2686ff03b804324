import type { CliIo } from './cli';
import type { DatabaseConfig, SyncConfig } from './config';
import { openDatabase } from './db/knex';
import { migrateToLatest } from './db/migrations';

// The commands' handlers: a library call with the resolved config, its result onto the streams.
// `cli.ts` loads this module only once a command is about to run with a valid configuration, so
// that `--help`, `--version`, argument and configuration errors never load the database driver,
// the worker client or TypeBox; the sync's own modules (the worker client with its compiled
// validators, the report) are loaded by `sync-sessions` alone. A handler that cannot do its work
// throws; `cli.ts` turns the error into one line and an exit code.

export async function syncSessions(config: SyncConfig, io: CliIo): Promise<void> {
  const { runSync } = require('./sync/run') as typeof import('./sync/run');
  const { renderReport, reportJson } = require('./sync/report') as typeof import('./sync/report');
  const outcome = await runSync(config);
  if (outcome.kind === 'skipped') {
    if (config.json) io.stdout.write(`${JSON.stringify({ ok: true, skipped: true, reason: outcome.reason })}\n`);
    else io.stdout.write(`⏭️  Sync skipped: ${outcome.reason}\n`);
    return;
  }
  for (const warning of outcome.report.warnings) io.stderr.write(`wa-sync: warning: ${warning}\n`);
  if (config.json) io.stdout.write(`${JSON.stringify(reportJson(outcome.report))}\n`);
  else io.stdout.write(renderReport(outcome.report, { color: config.color }));
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
