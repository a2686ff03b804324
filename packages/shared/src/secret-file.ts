import fs from 'node:fs';

/**
 * A secret file is unusable; the message names the variable, the file and the rule, never the
 * content. Each process turns it into its own configuration error (exit 2).
 */
export class SecretFileError extends Error {}

/**
 * A secret given as `<NAME>_FILE` (the worker's and the CLI's keys, `DATABASE_URL`): the file's
 * content without its final newline. Refused when others could read or replace it, or when it
 * belongs to a user other than `uid` (root, uid 0, may read any): the file is the secret. Kept
 * dependency-free (no TypeBox) so that the CLI's start can load it alone.
 */
export function readSecretFile(variable: string, file: string, uid: number | undefined): string {
  let stat: fs.Stats;
  let content: string;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      stat = fs.fstatSync(fd);
      if (!stat.isFile()) throw new SecretFileError(`${variable}: ${file} is not a regular file`);
      content = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    if (error instanceof SecretFileError) throw error;
    throw new SecretFileError(`${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    throw new SecretFileError(`${variable}: ${file} is open to group or others (mode ${mode}): chmod 600 it`);
  }
  if (uid !== undefined && uid !== 0 && stat.uid !== uid) {
    throw new SecretFileError(`${variable}: ${file} belongs to uid ${stat.uid}, not to this process's user (uid ${uid}): chown it`);
  }
  const value = content.replace(/\r?\n$/, '');
  if (value === '') throw new SecretFileError(`${variable}: ${file} is empty`);
  return value;
}
