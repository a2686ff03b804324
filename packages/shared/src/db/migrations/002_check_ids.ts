import type { Knex } from 'knex';
import { ID_PATTERN_SOURCE } from '../../id-pattern';

/**
 * The contract's id pattern on `session_id` and `workspace_id`, for new and updated rows only
 * (`NOT VALID`): a table that already holds rows off the pattern still migrates, and the sync
 * reports those rows (`invalid_accounts`) instead of failing on them. `VALIDATE CONSTRAINT` once
 * they are mended makes the check cover every row.
 */
export async function up(knex: Knex): Promise<void> {
  for (const column of ['session_id', 'workspace_id']) {
    await knex.raw(
      `ALTER TABLE whatsapp_accounts ADD CONSTRAINT whatsapp_accounts_${column}_pattern CHECK (${column} ~ '${ID_PATTERN_SOURCE}') NOT VALID`,
    );
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const column of ['session_id', 'workspace_id']) {
    await knex.raw(`ALTER TABLE whatsapp_accounts DROP CONSTRAINT IF EXISTS whatsapp_accounts_${column}_pattern`);
  }
}
