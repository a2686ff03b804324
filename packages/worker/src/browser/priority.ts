import { writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import { readStat } from './orphans';

/** Every descendant of `pid` (children of all its threads, recursively), `pid` included. */
async function processTree(pid: number): Promise<number[]> {
  const all: number[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    const current = pending.pop()!;
    all.push(current);
    const tasks = await fs.readdir(`/proc/${current}/task`).catch(() => [] as string[]);
    for (const tid of tasks) {
      const children = await fs.readFile(`/proc/${current}/task/${tid}/children`, 'utf8').catch(() => '');
      for (const child of children.split(' ').filter(Boolean)) pending.push(Number(child));
    }
  }
  return all;
}

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
    const tasks = await fs.readdir(`/proc/${member}/task`).catch(() => [] as string[]);
    for (const tid of tasks) {
      try {
        os.setPriority(Number(tid), nice);
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
