import { fileLockOwners, processIds, processIdsAsync, readProcess, readProcessAsync, readStat } from './proc';

export { fileLockOwners, readStat, type ProcStat } from './proc';

/** A process whose command line matched. */
export interface MatchedProcess {
  pid: number;
  pgid: number;
  /** Start time in clock ticks since boot: with the pid, names the process even if the pid is reused. */
  startTicks: number;
}

/** `args` holds every string of `requiredArgs` and, when `oneOf` is given, at least one of `oneOf`. */
function matches(args: readonly string[], requiredArgs: readonly string[], oneOf?: readonly string[]): boolean {
  return requiredArgs.every((arg) => args.includes(arg)) && (oneOf === undefined || oneOf.some((arg) => args.includes(arg)));
}

/**
 * Processes (other than this one) whose argument list contains every string in `requiredArgs` and,
 * when `oneOf` is given, one of `oneOf`.
 */
export function findProcesses(requiredArgs: readonly string[], oneOf?: readonly string[]): MatchedProcess[] {
  const found: MatchedProcess[] = [];
  for (const pid of processIds()) {
    if (pid === process.pid) continue;
    const info = readProcess(pid);
    if (info && matches(info.args, requiredArgs, oneOf)) {
      found.push({ pid, pgid: info.pgid, startTicks: info.startTicks });
    }
  }
  return found;
}

/**
 * SIGKILLs the matched processes and, when one leads its own process group (puppeteer launches
 * Chromium detached), the whole group, so renderers and helpers go too. A pid whose start time is
 * no longer the one read when it was found belongs to another process now (the pid was reused):
 * it is left alone. Returns the pids killed.
 */
export function killProcesses(matched: readonly MatchedProcess[]): number[] {
  const killed: number[] = [];
  for (const found of matched) {
    // Node has no pidfd to signal a process by identity: the window between this read and the
    // kill is a few microseconds, against the seconds to hours a pid list is otherwise kept.
    if (!sameProcess(found)) continue;
    const { pid, pgid } = found;
    try {
      if (pgid === pid && pgid !== process.pid && pgid > 1) process.kill(-pgid, 'SIGKILL');
      else process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // already gone
    }
  }
  return killed;
}

/**
 * Like {@link findProcesses}, without blocking the event loop (the worker scans `/proc` around
 * every launch while the HTTP API must keep answering).
 */
export async function findProcessesAsync(requiredArgs: readonly string[], oneOf?: readonly string[]): Promise<MatchedProcess[]> {
  const found: MatchedProcess[] = [];
  await Promise.all(
    (await processIdsAsync()).map(async (pid) => {
      if (pid === process.pid) return;
      const info = await readProcessAsync(pid);
      if (info && matches(info.args, requiredArgs, oneOf)) found.push({ pid, pgid: info.pgid, startTicks: info.startTicks });
    }),
  );
  return found;
}

/** Members of each process group in `pgids`, from one scan of `/proc`. */
export function groupMembers(pgids: ReadonlySet<number>): Map<number, number[]> {
  const members = new Map<number, number[]>([...pgids].map((pgid) => [pgid, []]));
  for (const pid of processIds()) {
    const stat = readStat(pid);
    if (stat) members.get(stat.pgid)?.push(pid);
  }
  return members;
}

/** Alive and not a zombie (an exited process nobody has reaped yet holds nothing). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform !== 'linux') return true;
  const stat = readStat(pid);
  return stat !== null && stat.state !== 'Z';
}

function sameProcess(process: MatchedProcess): boolean {
  return readStat(process.pid)?.startTicks === process.startTicks;
}

export interface ReapResult {
  /** Killed once their stores were closed (nothing left to save). */
  saved: number[];
  /** Killed when the grace ran out, still holding a store open (hung). */
  forced: number[];
  /** Gone by themselves. */
  exited: number[];
}

/**
 * Deals with the Chromium of an earlier worker (group leaders found by the marker). After a crash
 * each one closes by itself on its closed pipe: it flushes and closes its stores (LevelDB and
 * SQLite, which lock their files while open) within ~50-80 ms, then spends up to a second or two
 * tearing down, slowing everything else on the machine. So each is SIGKILLed, with its process
 * group, as soon as no member holds a file lock any more: its profile is saved. One that still
 * holds a lock after `graceMs` is killed anyway. Never throws.
 *
 * Measured: a Chromium killed ~5 ms after its worker lost the localStorage written 200 ms before
 * in 10 of 10 runs; killed once lock-free, 0 of 10 (and 0 of 10 for writes 50 ms before).
 */
export async function reapOrphans(orphans: readonly MatchedProcess[], options: { graceMs: number; pollMs?: number }): Promise<ReapResult> {
  const result: ReapResult = { saved: [], forced: [], exited: [] };
  // A browser leads its process group (puppeteer starts it detached): the group goes with it. A
  // matched process whose group leader did not match is dealt with alone.
  const leaders = orphans.filter((o) => o.pid === o.pgid || !orphans.some((l) => l.pid === o.pgid));
  if (leaders.length === 0) return result;
  const members = groupMembers(new Set(leaders.filter((o) => o.pid === o.pgid).map((o) => o.pgid)));
  const pending = new Set(leaders);
  const deadline = Date.now() + options.graceMs;
  const kill = (leader: MatchedProcess, into: number[]) => {
    pending.delete(leader);
    if (!sameProcess(leader)) return result.exited.push(leader.pid);
    if (killProcesses([leader]).length > 0) into.push(leader.pid);
    else result.exited.push(leader.pid);
  };
  for (;;) {
    const owners = fileLockOwners();
    const late = Date.now() >= deadline;
    for (const leader of [...pending]) {
      if (!sameProcess(leader)) {
        pending.delete(leader);
        result.exited.push(leader.pid);
      } else if (late) kill(leader, result.forced);
      else if (owners && !(members.get(leader.pid) ?? [leader.pid]).some((pid) => owners.has(pid))) kill(leader, result.saved);
    }
    if (pending.size === 0) return result;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 10));
  }
}
