/**
 * Scans of this machine's processes, read through the worker's own `/proc` reader (imported
 * alone: it loads nothing else of the worker).
 */
import fs from 'node:fs';
import { processIds, readProcess, readStat, type ProcInfo } from '@wa-session-sync/worker/dist/browser/proc';

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** Every process but this one, each read once (processes gone meanwhile are left out). */
function otherProcesses(): { pid: number; info: ProcInfo }[] {
  const found: { pid: number; info: ProcInfo }[] = [];
  for (const pid of processIds()) {
    if (pid === process.pid) continue;
    const info = readProcess(pid);
    if (info !== null) found.push({ pid, info });
  }
  return found;
}

/** Processes (other than this one) for which `matches` holds. */
export function processesWhere(matches: (info: ProcInfo) => boolean): number[] {
  return otherProcesses()
    .filter(({ info }) => matches(info))
    .map(({ pid }) => pid);
}

/** Pids of processes (other than this one) whose command line mentions `text`, e.g. a temp folder. */
export function processesMentioning(text: string): number[] {
  return processesWhere(({ args }) => args.join('\0').includes(text));
}

/** SIGKILLs every process whose command line mentions `text`; returns their pids. */
export function killProcessesMentioning(text: string): number[] {
  const pids = processesMentioning(text);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids;
}

/** A Chromium browser process (not one of its helpers, which carry `--type=`) on a profile under `dir`. */
export function isBrowserOn(args: readonly string[], dir: string): boolean {
  return args.some((arg) => arg.startsWith(`--user-data-dir=${dir}`)) && !args.some((arg) => arg.startsWith('--type='));
}

/** Pids of the Chromium browser processes on a profile under `dir`: one per running client. */
export function browserProcesses(dir: string): number[] {
  return processesWhere(({ args }) => isBrowserOn(args, dir));
}

/**
 * Pids of every process of the Chromium browsers on profiles under `dir`, their helpers included.
 * puppeteer starts each browser as the leader of a session of its own, and the zygotes, renderers
 * and utility processes it forks stay in that session; they do not carry `--user-data-dir`, so a
 * scan by command line sees the browser process alone (for a headless shell, about a third of a
 * session's CPU and memory).
 */
export function browserTrees(dir: string): number[] {
  // One read of every process: the browsers are found among the same reads as their helpers.
  const processes = otherProcesses();
  const browsers = new Set(processes.filter(({ info }) => isBrowserOn(info.args, dir)).map(({ pid }) => pid));
  return processes.filter(({ info }) => browsers.has(info.sid)).map(({ pid }) => pid);
}

/** Private memory (Private_Clean + Private_Dirty of `smaps_rollup`) in bytes, from its text. */
export function privateBytes(smapsRollup: string): number {
  let bytes = 0;
  for (const match of smapsRollup.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) bytes += Number(match[1]) * 1024;
  return bytes;
}

/**
 * Private memory of the processes, in bytes (gone ones count 0): `pids`, or every process whose
 * command line mentions `text`.
 */
export function privateMemory(processes: string | readonly number[]): number {
  let total = 0;
  for (const pid of typeof processes === 'string' ? processesMentioning(processes) : processes) {
    try {
      total += privateBytes(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    } catch {
      // gone
    }
  }
  return total;
}

/** CPU seconds (user + system) used so far by the processes: `pids`, or every process whose command line mentions `text`. */
export function cpuSeconds(processes: string | readonly number[]): number {
  let ticks = 0;
  for (const pid of typeof processes === 'string' ? processesMentioning(processes) : processes) ticks += readStat(pid)?.cpuTicks ?? 0;
  return ticks / TICKS_PER_SECOND;
}
