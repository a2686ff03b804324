import type { Knex } from 'knex';
import * as createWhatsappAccounts from './001_create_whatsapp_accounts';
import * as checkIds from './002_check_ids';
import * as sessionLeasesAndAuth from './003_session_leases_and_auth';
import * as fleet from './004_fleet';

// The schema of both processes: wa-sync's accounts, the worker's leases and saved logins, the
// fleet. `wa-sync migrate` applies it to a Postgres server (the one command that does), the CLI's
// embedded PGlite applies it to itself on open. Imported by its path
// (`@wa-session-sync/shared/dist/db/migrations`), not from shared's index, so that what imports
// shared for its types and schemas does not load this.

interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Every migration, in order. Listed here (not globbed from disk) so `.ts` and `.js` never mix. */
const MIGRATIONS: readonly Migration[] = [
  { name: '001_create_whatsapp_accounts', ...createWhatsappAccounts },
  { name: '002_check_ids', ...checkIds },
  { name: '003_session_leases_and_auth', ...sessionLeasesAndAuth },
  { name: '004_fleet', ...fleet },
];

/** The names of every migration, in the order they apply. */
export const MIGRATION_NAMES: readonly string[] = MIGRATIONS.map((migration) => migration.name);

const source: Knex.MigrationSource<Migration> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (migration) => migration.name,
  getMigration: async (migration) => migration,
};

/**
 * The table of applied migrations. Kept from when the migrations lived in the CLI: a database
 * migrated then goes on from where it is.
 */
const TABLE = 'wa_sync_migrations';

const CONFIG: Knex.MigratorConfig = { migrationSource: source, tableName: TABLE };

/** Applies what is missing; returns the names applied now (empty when already up to date). */
export async function migrateToLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest(CONFIG)) as [number, string[]];
  return applied;
}

/**
 * Undoes the last applied migration; returns its name, or `null` when none is applied. No command
 * runs it (a schema goes back by a person's decision, one step at a time); the tests prove each
 * `down` with it.
 */
export async function migrateDown(knex: Knex): Promise<string | null> {
  const [, undone] = (await knex.migrate.down(CONFIG)) as [number, string[]];
  return undone[0] ?? null;
}
