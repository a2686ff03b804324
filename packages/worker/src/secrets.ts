import fs from 'node:fs';
import { ConfigError } from './errors';

/**
 * Variables whose values must never be echoed, even in an error, nor stay in the running worker's
 * environment (`secrets-handover.ts` moves them out); each may be given as `<NAME>_FILE` instead
 * (`readSecretFile`). `DATABASE_URL` is among them although the worker reads it only with a
 * Postgres auth store: a shared env file hands it to the worker anyway.
 */
export const SECRET_VARIABLES = ['WHATSAPP_NODE_API_KEY', 'WHATSAPP_WEBHOOK_SECRET', 'DATABASE_URL'] as const;
export type SecretVariable = (typeof SECRET_VARIABLES)[number];

/**
 * A secret file's content, without its final newline. Refused when others could read or replace
 * it, or when it belongs to another user: the file is the secret.
 */
export function readSecretFile(variable: string, file: string, uid: number | undefined): string {
  let stat: fs.Stats;
  let content: string;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      stat = fs.fstatSync(fd);
      if (!stat.isFile()) throw new ConfigError(`${variable}: ${file} is not a regular file`);
      content = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    throw new ConfigError(`${variable}: ${file} is open to group or others (mode ${mode}): chmod 600 it`);
  }
  if (uid !== undefined && uid !== 0 && stat.uid !== uid) {
    throw new ConfigError(`${variable}: ${file} belongs to uid ${stat.uid}, not to the worker's user (uid ${uid}): chown it`);
  }
  const value = content.replace(/\r?\n$/, '');
  if (value === '') throw new ConfigError(`${variable}: ${file} is empty`);
  return value;
}

