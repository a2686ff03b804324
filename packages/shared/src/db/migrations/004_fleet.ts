import type { Knex } from 'knex';

/**
 * A fleet of workers (issue 20): `whatsapp_accounts.worker_id`, the worker a session
 * runs on (null: not placed yet, or a single worker), and `whatsapp_workers`, what the sync's
 * controller knows of each worker: whether an operator is draining it (`wa-sync drain`), when it
 * last answered, and how many runs in a row it did not.
 *
 * Worker ids are free text (`WHATSAPP_WORKER_ID` defaults to the host name), so they get no id
 * pattern, only a refusal of the empty string.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE whatsapp_accounts ADD COLUMN worker_id text');
  await knex.raw('CREATE INDEX whatsapp_accounts_worker_id_index ON whatsapp_accounts (worker_id)');
  await knex.raw(`
    CREATE TABLE whatsapp_workers (
      worker_id        text PRIMARY KEY CONSTRAINT whatsapp_workers_worker_id_not_empty CHECK (worker_id <> ''),
      draining         boolean NOT NULL DEFAULT false,
      draining_since   timestamptz,
      last_seen_at     timestamptz,
      unreachable_runs integer NOT NULL DEFAULT 0,
      updated_at       timestamptz NOT NULL DEFAULT now()
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS whatsapp_workers');
  await knex.raw('DROP INDEX IF EXISTS whatsapp_accounts_worker_id_index');
  await knex.raw('ALTER TABLE whatsapp_accounts DROP COLUMN IF EXISTS worker_id');
}
