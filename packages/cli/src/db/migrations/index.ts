import type { Knex } from 'knex';
import * as createWhatsappAccounts from './001_create_whatsapp_accounts';
import * as checkIds from './002_check_ids';

interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Every migration, in order. Listed here (not globbed from disk) so `.ts` and `.js` never mix. */
const MIGRATIONS: readonly Migration[] = [
  { name: '001_create_whatsapp_accounts', ...createWhatsappAccounts },
  { name: '002_check_ids', ...checkIds },
];

const source: Knex.MigrationSource<Migration> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (migration) => migration.name,
  getMigration: async (migration) => migration,
};

const TABLE = 'wa_sync_migrations';

/** Applies what is missing; returns the names applied now (empty when already up to date). */
export async function migrateToLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest({ migrationSource: source, tableName: TABLE })) as [number, string[]];
  return applied;
}
