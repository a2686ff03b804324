/**
 * The one reader of processes and file locks in `/proc` (`stat`, `cmdline`, threads, children,
 * `/proc/locks`): the orphan reaper, the renice, the profile holder's liveness, and the tests' and
 * benchmarks' process scans (`@wa-session-sync/test-support`) all read through it. Pure reads, no
 * other import, so it can be loaded without the worker. The machine's settings and memory
 * (`/proc/sys`, `/proc/meminfo`, the cgroup) are read by the modules that decide on them
 * (`sandbox.ts`, `sessions/capacity.ts`), and the one write, a session autogroup's niceness, stays
 * with the renice (`priority.ts`).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';

/** What is read of `/proc/<pid>/stat`. */
export interface ProcStat {
  /** `R`, `S`, `D`, `Z` (exited, not yet reaped), ... */
  state: string;
  pgid: number;
  sid: number;
  /** The process's own niceness (-20..19). */
  nice: number;
  /** CPU time used so far, user + system, in clock ticks (USER_HZ, 100 on Linux). */
  cpuTicks: number;
  /** Start time in clock ticks since boot: with the pid, names the process even if the pid is reused. */
  startTicks: number;
}

/** One process: its argument list (`/proc/<pid>/cmdline` split on NUL) and its stat. */
export interface ProcInfo extends ProcStat {
  args: string[];
}

export function parseStat(stat: string): ProcStat {
  // Fields after the parenthesised command name: state(3) ppid(4) pgrp(5) session(6) ...
  // utime(14) stime(15) ... nice(19) ... starttime(22).
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    state: rest[0]!,
    pgid: Number(rest[2]),
    sid: Number(rest[3]),
    nice: Number(rest[16]),
    cpuTicks: Number(rest[11]) + Number(rest[12]),
    startTicks: Number(rest[19]),
  };
}

/** `/proc/<pid>/stat` of a process, or null when it is gone (or there is no /proc). */
export function readStat(pid: number): ProcStat | null {
  try {
    return parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** Arguments and stat of a process, or null when it is gone. */
export function readProcess(pid: number): ProcInfo | null {
  try {
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return { args, ...parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')) };
  } catch {
    return null;
  }
}

/** Pids of every process of the machine (an empty list when there is no /proc). */
export function processIds(): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  return entries.filter((entry) => /^\d+$/.test(entry)).map(Number);
}

/** {@link readProcess} without blocking the event loop. */
export async function readProcessAsync(pid: number): Promise<ProcInfo | null> {
  try {
    const args = (await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return { args, ...parseStat(await fsp.readFile(`/proc/${pid}/stat`, 'utf8')) };
  } catch {
    return null;
  }
}

/** {@link processIds} without blocking the event loop. */
export async function processIdsAsync(): Promise<number[]> {
  try {
    return (await fsp.readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number);
  } catch {
    return [];
  }
}

/** The thread ids of a process (none when it is gone). */
export async function threadIds(pid: number): Promise<number[]> {
  return (await fsp.readdir(`/proc/${pid}/task`).catch(() => [] as string[])).map(Number);
}

/** Every descendant of `pid` (children of all its threads, recursively), `pid` included. */
export async function processTree(pid: number): Promise<number[]> {
  const all: number[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    const current = pending.pop()!;
    all.push(current);
    for (const tid of await threadIds(current)) {
      const children = await fsp.readFile(`/proc/${current}/task/${tid}/children`, 'utf8').catch(() => '');
      for (const child of children.split(' ').filter(Boolean)) pending.push(Number(child));
    }
  }
  return all;
}

/** Pids holding a file lock (`/proc/locks`: flock, POSIX and lease locks name their owner); null if unreadable. */
export function fileLockOwners(): Set<number> | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return null;
  }
  const owners = new Set<number>();
  for (const line of text.split('\n')) {
    // "1: POSIX  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" (a "->" marks a waiter, one field more)
    const fields = line.trim().split(/\s+/);
    const pid = Number(fields[fields[1] === '->' ? 5 : 4]);
    if (Number.isInteger(pid) && pid > 0) owners.add(pid);
  }
  return owners;
}
