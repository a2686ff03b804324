import fs from 'node:fs';
import os from 'node:os';

/**
 * Gives every thread of a Chromium process group the niceness `nice` (higher = yields the CPU).
 *
 * Chromium raises its own browser, GPU and IO threads to nice -8 when it may (as root), so on a
 * busy machine a restoring browser would take the CPU from the worker's event loop and `/health`
 * would answer late. Lowering the browsers keeps the HTTP API responsive; helpers spawned later
 * (renderers from the zygote) inherit the value. Linux only; failures are ignored (not permitted,
 * process gone). Returns the number of threads changed.
 */
export function lowerProcessGroupPriority(pgid: number, nice: number): number {
  let changed = 0;
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue;
      for (const tid of fs.readdirSync(`/proc/${entry}/task`)) {
        try {
          os.setPriority(Number(tid), nice);
          changed++;
        } catch {
          // not permitted or gone
        }
      }
    } catch {
      // gone
    }
  }
  return changed;
}
