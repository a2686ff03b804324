import fs from 'node:fs/promises';
import path from 'node:path';
import { isValidId } from '@wa-session-sync/shared';
import { InvalidIdError } from '../errors';

/**
 * `<sessionsDir>/<workspaceId>/<sessionId>/`, built only from validated ids and checked to stay
 * inside `sessionsDir`.
 */
export function sessionFolder(sessionsDir: string, workspaceId: string, sessionId: string): string {
  if (!isValidId(workspaceId)) throw new InvalidIdError('workspace_id');
  if (!isValidId(sessionId)) throw new InvalidIdError('session_id');
  const root = path.resolve(sessionsDir);
  const folder = path.resolve(root, workspaceId, sessionId);
  if (!folder.startsWith(root + path.sep)) throw new InvalidIdError('session_id');
  return folder;
}

/** LocalAuth keeps the Chromium profile in `<folder>/session` (dataPath = folder, no clientId). */
export function profileDir(folder: string): string {
  return path.join(folder, 'session');
}

const SINGLETON_FILES = ['SingletonLock', 'SingletonCookie', 'SingletonSocket'];

/**
 * Removes Chromium's `Singleton*` files from a profile the worker owns. A lock left by another
 * host (a recreated container) makes Chromium exit with code 21. `SingletonLock` is a dangling
 * symlink, so existence is tested with lstat. Returns the names removed.
 */
export async function removeSingletonFiles(profile: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of SINGLETON_FILES) {
    const file = path.join(profile, name);
    try {
      await fs.lstat(file);
    } catch {
      continue;
    }
    await fs.rm(file, { force: true });
    removed.push(name);
  }
  return removed;
}
