/**
 * The one reader of `/proc/<pid>/stat` and `/proc/<pid>/cmdline`: the orphan reaper, the renice,
 * the profile holder's liveness, and the tests' and benchmarks' process scans
 * (`@wa-session-sync/test-support`) all read processes through it. Pure reads, no other import,
 * so it can be loaded without the worker.
 */
import fs from 'node:fs';

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
