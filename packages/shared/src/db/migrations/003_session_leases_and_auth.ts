import type { Knex } from 'knex';
import { ID_PATTERN_SOURCE } from '../../id-pattern';

/**
 * The two tables of portable sessions (issue 19), used by the worker with
 * `WHATSAPP_AUTH_STORE=postgres`:
 *
 * - `whatsapp_session_leases`: which worker may run a session, until when, and the fencing token of
 *   that acquisition. Tokens come from one sequence for every session and are never reset, so a
 *   token names one acquisition for good: a write carrying it is the holder's, or stale. A released
 *   lease keeps its row (expired), so its token is still the one a later holder must exceed.
 * - `whatsapp_session_auth`: each session's saved WhatsApp login (the origin's storage as one blob),
 *   with the token it was written under.
 *
 * The id checks are plain (not `NOT VALID` as in 002): the tables are new, and the worker only
 * runs sessions whose ids match the pattern.
 */
export async function up(knex: Knex): Promise<void> {
  const id = (table: string, column: string) =>
    `CONSTRAINT ${table}_${column}_pattern CHECK (${column} ~ '${ID_PATTERN_SOURCE}')`;
  await knex.raw('CREATE SEQUENCE whatsapp_session_lease_token_seq AS bigint');
  await knex.raw(`
    CREATE TABLE whatsapp_session_leases (
      session_id   text PRIMARY KEY ${id('whatsapp_session_leases', 'session_id')},
      workspace_id text NOT NULL ${id('whatsapp_session_leases', 'workspace_id')},
      worker_id    text NOT NULL CONSTRAINT whatsapp_session_leases_worker_id_not_empty CHECK (worker_id <> ''),
      token        bigint NOT NULL,
      acquired_at  timestamptz,
      renewed_at   timestamptz,
      expires_at   timestamptz NOT NULL
    )`);
  await knex.raw('CREATE INDEX whatsapp_session_leases_worker_id_index ON whatsapp_session_leases (worker_id)');
  await knex.raw(`
    CREATE TABLE whatsapp_session_auth (
      session_id    text PRIMARY KEY ${id('whatsapp_session_auth', 'session_id')},
      workspace_id  text NOT NULL ${id('whatsapp_session_auth', 'workspace_id')},
      data          bytea NOT NULL,
      size_bytes    integer NOT NULL
                    CONSTRAINT whatsapp_session_auth_size_bytes_check CHECK (size_bytes = octet_length(data)),
      sha256        text NOT NULL
                    CONSTRAINT whatsapp_session_auth_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      fencing_token bigint NOT NULL,
      saved_at      timestamptz NOT NULL DEFAULT now(),
      saved_by      text
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS whatsapp_session_auth');
  await knex.raw('DROP TABLE IF EXISTS whatsapp_session_leases');
  await knex.raw('DROP SEQUENCE IF EXISTS whatsapp_session_lease_token_seq');
}
