import { writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import { processTree, readStat, threadIds } from './proc';

/**
 * Gives every thread of a Chromium browser process and of its descendants the niceness `nice`
 * (higher = yields the CPU), and the same niceness to the scheduler autogroup of its session.
 *
 * Chromium raises its own browser, GPU and IO threads to nice -8 when it may (as root), so on a
 * busy machine a restoring browser would take the CPU from the worker's event loop and `/health`
 * would answer late. Lowering the browsers keeps the HTTP API responsive; helpers spawned later
 * (renderers from the zygote) inherit the value.
 *
 * The autogroup matters as much as the threads: puppeteer launches Chromium detached, so each
 * browser leads a session of its own, and with `sched_autogroup_enabled` (the default on most
 * kernels) the scheduler first shares the CPU between sessions, each at its autogroup's niceness,
 * whatever the threads' own. Without it ten browsers outweigh the worker ten to one.
 *
 * Linux only; failures are ignored (not permitted, process gone, no autogroups). Resolves to the
 * number of threads changed.
 */
export async function lowerProcessTreePriority(pid: number, nice: number): Promise<number> {
  if (isSessionLeader(pid)) await fs.writeFile(`/proc/${pid}/autogroup`, String(nice)).catch(() => undefined);
  let changed = 0;
  for (const member of await processTree(pid)) {
    for (const tid of await threadIds(member)) {
      try {
        os.setPriority(tid, nice);
        changed++;
      } catch {
        // not permitted or gone
      }
    }
  }
  return changed;
}

/**
 * Gives the scheduler autogroup of `pid`'s session the niceness `nice`: one write for a whole
 * browser (puppeteer starts each Chromium in a session of its own). Resolves false where the
 * kernel has no autogroups or the write is refused; {@link lowerProcessTreePriority} then does it
 * thread by thread (slower: it walks the process tree).
 */
export async function lowerSessionPriority(pid: number, nice: number): Promise<boolean> {
  try {
    if (!isSessionLeader(pid)) throw new Error('not a session of its own');
    writeFileSync(`/proc/${pid}/autogroup`, String(nice));
    return true;
  } catch {
    await lowerProcessTreePriority(pid, nice);
    return false;
  }
}

/**
 * Whether `pid` leads its session: only then is its autogroup its own (a process started from a
 * shell shares the shell's, which must not be lowered with it).
 */
function isSessionLeader(pid: number): boolean {
  return readStat(pid)?.sid === pid;
}
