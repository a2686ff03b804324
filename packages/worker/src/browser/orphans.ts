import fs from 'node:fs';
import fsp from 'node:fs/promises';

/** A process whose command line matched. */
export interface MatchedProcess {
  pid: number;
  pgid: number;
  /** Start time in clock ticks since boot: with the pid, names the process even if the pid is reused. */
  startTicks: number;
}

/** Process group and start time from `/proc/<pid>/stat`. */
function parseStat(stat: string): { pgid: number; startTicks: number } {
  // Fields after the parenthesised command name: state(3) ppid(4) pgrp(5) ... starttime(22).
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pgid: Number(rest[2]), startTicks: Number(rest[19]) };
}

function readProcess(pid: number): { args: string[]; pgid: number; startTicks: number } | null {
  try {
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return { args, ...parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')) };
  } catch {
    return null;
  }
}

/** Processes (other than this one) whose argument list contains every string in `requiredArgs`. */
export function findProcesses(requiredArgs: readonly string[]): MatchedProcess[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const found: MatchedProcess[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const info = readProcess(pid);
    if (info && requiredArgs.every((arg) => info.args.includes(arg))) {
      found.push({ pid, pgid: info.pgid, startTicks: info.startTicks });
    }
  }
  return found;
}

/**
 * SIGKILLs the matched processes and, when one leads its own process group (puppeteer launches
 * Chromium detached), the whole group, so renderers and helpers go too. Returns the pids killed.
 */
export function killProcesses(matched: readonly MatchedProcess[]): number[] {
  const killed: number[] = [];
  for (const { pid, pgid } of matched) {
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
export async function findProcessesAsync(requiredArgs: readonly string[]): Promise<MatchedProcess[]> {
  let entries: string[];
  try {
    entries = await fsp.readdir('/proc');
  } catch {
    return [];
  }
  const found: MatchedProcess[] = [];
  await Promise.all(
    entries.map(async (entry) => {
      if (!/^\d+$/.test(entry)) return;
      const pid = Number(entry);
      if (pid === process.pid) return;
      try {
        const args = (await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
        if (!requiredArgs.every((arg) => args.includes(arg))) return;
        found.push({ pid, ...parseStat(await fsp.readFile(`/proc/${pid}/stat`, 'utf8')) });
      } catch {
        // gone
      }
    }),
  );
  return found;
}
