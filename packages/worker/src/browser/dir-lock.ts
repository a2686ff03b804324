import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkerError } from '../errors';
import { operatorPid } from '../secrets-handover';

/** Thrown at start when another worker holds the sessions folder (the worker exits 1). */
export class SessionsDirLockedError extends WorkerError {
  constructor(dir: string, holder: string) {
    super(
      'sessions_dir_locked',
      `another worker (${holder}) already uses the sessions folder ${dir}: stop it first, or give this one a WHATSAPP_SESSIONS_DIR of its own`,
      500,
    );
  }
}

/**
 * Thrown at start when the sessions folder cannot be locked: no `flock` to take the lock with, or
 * a lock file that is not a regular file of the worker's user (a planted symlink or hard link). The
 * worker exits 1: two workers on one folder would kill each other's Chromium.
 */
export class SessionsDirUnlockableError extends WorkerError {
  constructor(message: string) {
    super('sessions_dir_unlockable', message, 500);
  }
}

/** The lock file inside the sessions folder; it also names its holder and its Chromium's token. */
export const LOCK_FILE = '.wa-worker.lock';

/** Exit code of flock(1) when the lock is held by someone else. */
const HELD = 75;

/** The sessions folder held by this worker. */
export interface SessionsDirLock {
  /** A random token of this worker, carried by every Chromium it launches (`markerArg`). */
  token: string;
  /** The token the previous holder wrote, if any: its orphaned Chromium carry it. */
  previousToken: string | null;
}

/**
 * Takes the sessions folder for this worker alone, for as long as the process lives: an exclusive
 * flock(2) on `<dir>/.wa-worker.lock`, then writes its pid and a fresh token into it.
 *
 * Node has no flock of its own. The alternatives were weighed: `fs-ext` adds it natively but needs
 * an install script (npm 11 runs none unless allowed, and a compiler in the image); lock folders
 * (`proper-lockfile`) go stale after a crash and are taken over by age, so a paused worker can lose
 * its folder to a second one. util-linux's `flock` (in every Debian image, busybox has one too)
 * takes the lock on a file descriptor this process opened and passes down: the lock belongs to that
 * open file, which this process keeps, so it outlives the short-lived `flock` and the kernel
 * releases it when the worker dies in any way. No stale lock after a crash, and it holds across
 * containers sharing the folder. Without `flock` the start fails (exit 1) rather than run unlocked.
 *
 * The file is opened without following a symlink and must be a regular file with one link owned by
 * this user: a link planted in the folder never gets its target truncated. It is opened
 * close-on-exec: no Chromium inherits it. A lock is waited for `waitSec` (a worker restarted at
 * once after a SIGKILL).
 */
export async function lockSessionsDir(
  dir: string,
  options: {
    waitSec?: number;
    /**
     * Only prove the lock can be taken (`wa-worker --check`): the holder and its token are left as
     * the previous worker wrote them, so the start that follows still finds that worker's Chromium.
     */
    probe?: boolean;
  } = {},
): Promise<SessionsDirLock> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, LOCK_FILE);
  const fd = openLockFile(file);
  let outcome: 'locked' | 'held' | string;
  try {
    outcome = await takeFlock(fd, options.waitSec ?? 2);
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  if (outcome !== 'locked') {
    fs.closeSync(fd);
    if (outcome === 'held') throw new SessionsDirLockedError(dir, holderOf(file));
    throw new SessionsDirUnlockableError(`cannot lock the sessions folder ${dir}: ${outcome}`);
  }
  // `fd` stays open until the process exits: that is the lock.
  const previousToken = parseHolder(fs.readFileSync(fd, 'utf8'))?.token ?? null;
  if (options.probe) return { token: '', previousToken };
  const token = randomBytes(16).toString('hex');
  const holder = Buffer.from(`${JSON.stringify({ pid: operatorPid(), host: os.hostname(), since: new Date().toISOString(), token })}\n`);
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, holder, 0, holder.length, 0);
  return { token, previousToken: previousToken && /^[0-9a-f]{32}$/.test(previousToken) ? previousToken : null };
}

/** Opens (or creates) the lock file, refusing anything but a regular file with one link owned by this user. */
function openLockFile(file: string): number {
  const rule = `the lock file ${file} must be a regular file owned by this worker's user (uid ${process.getuid?.() ?? '?'}): remove it and start again`;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new SessionsDirUnlockableError(`${file} is a symbolic link; ${rule}`);
    throw new SessionsDirUnlockableError(`cannot open ${file} (${code ?? 'error'}); ${rule}`);
  }
  const stat = fs.fstatSync(fd);
  const problem = !stat.isFile()
    ? 'is not a regular file'
    : stat.nlink !== 1
      ? `has ${stat.nlink} hard links`
      : process.getuid && stat.uid !== process.getuid()
        ? `is owned by uid ${stat.uid}`
        : null;
  if (problem) {
    fs.closeSync(fd);
    throw new SessionsDirUnlockableError(`${file} ${problem}; ${rule}`);
  }
  return fd;
}

/** `flock --exclusive` on `fd`: 'locked', 'held', or why it could not run. */
async function takeFlock(fd: number, waitSec: number): Promise<string> {
  const child = spawn('flock', ['--exclusive', '--wait', String(waitSec), '--conflict-exit-code', String(HELD), '3'], {
    stdio: ['ignore', 'ignore', 'ignore', fd],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  return new Promise((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      resolve(
        error.code === 'ENOENT'
          ? `flock was not found on PATH (${process.env.PATH ?? ''}): install util-linux (apt-get install util-linux), or put flock on PATH`
          : `flock could not run (${error.code ?? error.message})`,
      ),
    );
    child.once('exit', (code, signal) => resolve(code === 0 ? 'locked' : code === HELD ? 'held' : `flock failed (${signal ?? `exit ${code}`})`));
  });
}

function parseHolder(text: string): { pid?: number; host?: string; token?: string } | null {
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as { pid?: number; host?: string; token?: string }) : null;
  } catch {
    return null;
  }
}

function holderOf(file: string): string {
  let text = '';
  try {
    // Read without following a link either: a planted one is refused before this point anyway.
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // unreadable: pid unknown
  }
  const holder = parseHolder(text);
  if (!holder) return 'pid unknown';
  return `pid ${holder.pid ?? '?'}${holder.host && holder.host !== os.hostname() ? ` on ${holder.host}` : ''}`;
}
