import { readSecretFile as readSharedSecretFile, SecretFileError } from '@wa-session-sync/shared/dist/secret-file';
import { ConfigError } from './errors';

/**
 * Variables whose values must never be echoed, even in an error, nor stay in the running worker's
 * environment (`secrets-handover.ts` moves them out); each may be given as `<NAME>_FILE` instead
 * (`readSecretFile`). `DATABASE_URL` is among them although the worker reads it only with a
 * Postgres auth store: a shared env file hands it to the worker anyway.
 */
export const SECRET_VARIABLES = ['WHATSAPP_NODE_API_KEY', 'WHATSAPP_WEBHOOK_SECRET', 'WHATSAPP_METRICS_TOKEN', 'DATABASE_URL'] as const;
export type SecretVariable = (typeof SECRET_VARIABLES)[number];

/** {@link readSharedSecretFile} as a configuration error of the worker (exit 2). */
export function readSecretFile(variable: string, file: string, uid: number | undefined): string {
  try {
    return readSharedSecretFile(variable, file, uid);
  } catch (error) {
    if (error instanceof SecretFileError) throw new ConfigError(error.message);
    throw error;
  }
}
