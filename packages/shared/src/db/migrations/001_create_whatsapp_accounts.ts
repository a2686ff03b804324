import type { Knex } from 'knex';
import { SESSION_STATUSES } from '../../status';

/** `whatsapp_accounts` exactly as the contract gives it. */
export async function up(knex: Knex): Promise<void> {
  const statuses = SESSION_STATUSES.map((status) => `'${status}'`).join(', ');
  await knex.raw(`
    CREATE TABLE whatsapp_accounts (
      id            bigserial PRIMARY KEY,
      uuid          uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
      workspace_id  varchar(100) NOT NULL,
      session_id    varchar(100) NOT NULL UNIQUE,
      phone_number  varchar(32),
      provider_type varchar(32) NOT NULL DEFAULT 'webjs',
      status        varchar(32) NOT NULL DEFAULT 'disconnected'
                    CONSTRAINT whatsapp_accounts_status_check CHECK (status IN (${statuses})),
      is_active     boolean NOT NULL DEFAULT true,
      metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
      created_at    timestamptz NOT NULL DEFAULT now(),
      updated_at    timestamptz NOT NULL DEFAULT now(),
      deleted_at    timestamptz
    )`);
  await knex.raw('CREATE INDEX whatsapp_accounts_workspace_id_index ON whatsapp_accounts (workspace_id)');
  await knex.raw('CREATE INDEX whatsapp_accounts_status_index ON whatsapp_accounts (status)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS whatsapp_accounts');
}
