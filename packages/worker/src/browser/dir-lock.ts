import { spawn } from 'node:child_process';
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

/** The lock file inside the sessions folder; it also names its holder. */
export const LOCK_FILE = '.wa-worker.lock';

/** Exit code of flock(1) when the lock is held by someone else. */
const HELD = 75;

/**
 * Takes the sessions folder for this worker alone, for as long as the process lives: an exclusive
 * flock(2) on `<dir>/.wa-worker.lock`. Node has no flock of its own (the native packages that add
 * it need install scripts), so util-linux's `flock` takes it on a file descriptor this process
 * opened and passes down: the lock belongs to that open file, which this process keeps, so it
 * outlives the short-lived `flock` and the kernel releases it when the worker dies in any way. No
 * stale lock after a crash, and it holds across containers sharing the folder, where pid files and
 * sockets do not. The file is opened close-on-exec: no Chromium inherits it. A lock is waited for
 * `waitSec` (a worker restarted at once after a SIGKILL). Without `flock` (not Linux) the folder
 * is not locked.
 */
export async function lockSessionsDir(dir: string, options: { waitSec?: number } = {}): Promise<{ locked: boolean }> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, LOCK_FILE);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  const child = spawn('flock', ['--exclusive', '--wait', String(options.waitSec ?? 2), '--conflict-exit-code', String(HELD), '3'], {
    stdio: ['ignore', 'ignore', 'ignore', fd],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  const outcome = await new Promise<'locked' | 'held' | 'unavailable'>((resolve) => {
    child.once('error', () => resolve('unavailable'));
    child.once('exit', (code) => resolve(code === 0 ? 'locked' : code === HELD ? 'held' : 'unavailable'));
  });
  if (outcome !== 'locked') {
    fs.closeSync(fd);
    if (outcome === 'held') throw new SessionsDirLockedError(dir, holderOf(file));
    return { locked: false };
  }
  // `fd` stays open until the process exits: that is the lock.
  const holder = Buffer.from(`${JSON.stringify({ pid: operatorPid(), host: os.hostname(), since: new Date().toISOString() })}\n`);
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, holder, 0, holder.length, 0);
  return { locked: true };
}

function holderOf(file: string): string {
  try {
    const { pid, host } = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid?: number; host?: string };
    return `pid ${pid ?? '?'}${host && host !== os.hostname() ? ` on ${host}` : ''}`;
  } catch {
    return 'pid unknown';
  }
}
