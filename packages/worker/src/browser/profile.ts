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

/**
 * `target`, a path under `root`, is where its path says: no part of it below `root` is a symbolic
 * link (`root` itself may be one: a sessions folder on another disk). A path that does not exist
 * counts as inside: nothing there to follow. Checked before any recursive delete.
 */
export async function resolvesInside(root: string, target: string): Promise<boolean> {
  const relative = path.relative(root, target);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return false;
  let real: string;
  try {
    real = await fs.realpath(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
  return real === path.join(await fs.realpath(root), relative);
}

/** LocalAuth keeps the Chromium profile in `<folder>/session` (dataPath = folder, no clientId). */
export function profileDir(folder: string): string {
  return path.join(folder, 'session');
}

/**
 * Who holds a profile, from Chromium's `SingletonLock` (a symlink to `<hostname>-<pid>`), or null
 * when there is no lock. Cheaper than scanning every process: Chromium takes the lock at start.
 */
export async function profileLockHolder(profile: string): Promise<{ host: string; pid: number } | null> {
  let target: string;
  try {
    target = await fs.readlink(path.join(profile, 'SingletonLock'));
  } catch {
    return null;
  }
  const dash = target.lastIndexOf('-');
  const pid = Number(target.slice(dash + 1));
  if (dash <= 0 || !Number.isInteger(pid) || pid <= 0) return { host: target, pid: 0 };
  return { host: target.slice(0, dash), pid };
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
