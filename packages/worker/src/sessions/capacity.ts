import fs from 'node:fs';
import os from 'node:os';
import { CapacityExhaustedError } from '../errors';

export interface CapacityLimits {
  /** Sessions holding a browser at most (`WHATSAPP_MAX_SESSIONS`); undefined: the default cap, or none without an estimate. */
  maxSessions?: number;
  /** Available memory a start leaves at least (`WHATSAPP_MIN_FREE_MEMORY_MB`); 0: no floor. */
  minFreeMemoryMb: number;
  /**
   * The memory one session is expected to take (`WHATSAPP_SESSION_MEMORY_MB`): each launch not
   * finished counts at it, and the default cap follows from it. 0 (the default): no estimate, so
   * launches are not counted and there is no default cap.
   */
  sessionMemoryMb?: number;
  /** MiB of memory available to new processes; read from the machine unless given. */
  availableMemoryMb?: () => number;
  /** MiB of memory of the machine; read from it unless given. */
  totalMemoryMb?: () => number;
}

/** MemAvailable of `/proc/meminfo` (what the kernel can hand out without swapping), else free memory. */
export function availableMemoryMb(): number {
  try {
    const match = /^MemAvailable:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (match) return Math.floor(Number(match[1]) / 1024);
  } catch {
    // not Linux: fall through
  }
  return Math.floor(os.freemem() / 1024 / 1024);
}

/**
 * The memory this process may use in MiB: the machine's, or less under a cgroup v2 `memory.max`
 * (a container's `mem_limit`, systemd's `MemoryMax`), which the kernel enforces by killing.
 */
export function totalMemoryMb(): number {
  const machine = Math.floor(os.totalmem() / 1024 / 1024);
  const limit = cgroupMemoryMax();
  return limit === null ? machine : Math.min(machine, limit);
}

/** `memory.max` of this process's cgroup v2 in MiB; null without one (or without a limit). */
function cgroupMemoryMax(): number | null {
  try {
    const group = /^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    if (group === undefined) return null;
    const max = fs.readFileSync(`/sys/fs/cgroup${group}/memory.max`, 'utf8').trim();
    return max === 'max' ? null : Math.floor(Number(max) / 1024 / 1024);
  } catch {
    return null; // no cgroup v2 here (or not Linux)
  }
}

/**
 * The cap when `WHATSAPP_MAX_SESSIONS` is unset: as many sessions as the machine's memory holds
 * above the floor at the estimate each (at least one). Without an estimate, no cap.
 */
export function defaultMaxSessions(totalMb: number, minFreeMemoryMb: number, sessionMemoryMb: number): number | null {
  if (sessionMemoryMb <= 0) return null;
  return Math.max(1, Math.floor((totalMb - minFreeMemoryMb) / sessionMemoryMb));
}

/**
 * One launch counted against the memory from its admission (or, for a relaunch, from its turn in
 * the launch gate) until it has finished; {@link Capacity.finish} ends it.
 */
export interface LaunchReservation {
  /** It has left the launch gate: its Chromium is starting. */
  started: boolean;
}

/**
 * Decides whether one more session may start. Available memory is read at every decision, but
 * it lags: a launch admitted a moment ago (still waiting in the launch gate, or its Chromium
 * still starting) has not taken its memory yet. So each launch not yet finished counts at the
 * per-session estimate, and a start is admitted only if the memory left after it and after every
 * such launch stays at or above the floor. The floor is checked again when a launch leaves the
 * gate, against what is launching then: memory may have gone elsewhere while it waited.
 */
export class Capacity {
  private readonly available: () => number;
  private readonly sessionMemoryMb: number;
  private readonly unfinished = new Set<LaunchReservation>();
  /** Sessions holding a browser at most; null: no cap. */
  readonly max: number | null;

  constructor(private readonly limits: CapacityLimits) {
    this.available = limits.availableMemoryMb ?? availableMemoryMb;
    this.sessionMemoryMb = limits.sessionMemoryMb ?? 0;
    this.max = limits.maxSessions ?? defaultMaxSessions((limits.totalMemoryMb ?? totalMemoryMb)(), limits.minFreeMemoryMb, this.sessionMemoryMb);
  }

  /**
   * Admits one more session, `used` holding a browser now; its launch counts until
   * {@link finish}. Throws `CapacityExhaustedError` when it must not start.
   */
  admit(used: number): LaunchReservation {
    if (this.max !== null && used >= this.max) {
      const why = this.limits.maxSessions === undefined ? 'its default cap from the machine memory and WHATSAPP_SESSION_MEMORY_MB; set WHATSAPP_MAX_SESSIONS to choose' : 'WHATSAPP_MAX_SESSIONS';
      throw new CapacityExhaustedError(`This worker runs its maximum of ${this.max} sessions (${why}); start it on another worker or stop one`, 60);
    }
    this.checkMemory(this.unfinished.size);
    return this.reserve();
  }

  /**
   * A launch leaves the launch gate: the floor is checked again with the launches started and
   * not finished (those still waiting take nothing yet). A relaunch, never admitted, is counted
   * from here. Throws `CapacityExhaustedError` (the launch is then finished).
   */
  start(reservation: LaunchReservation | null): LaunchReservation {
    let starting = 0;
    for (const other of this.unfinished) if (other.started && other !== reservation) starting++;
    try {
      this.checkMemory(starting);
    } catch (error) {
      if (reservation) this.finish(reservation);
      throw error;
    }
    const started = reservation ?? this.reserve();
    started.started = true;
    return started;
  }

  /** The launch has finished (or will not happen): it no longer counts. Idempotent. */
  finish(reservation: LaunchReservation): void {
    this.unfinished.delete(reservation);
  }

  /** Launches counted and not finished (admitted and waiting, or starting). */
  get pending(): number {
    return this.unfinished.size;
  }

  private reserve(): LaunchReservation {
    const reservation: LaunchReservation = { started: false };
    this.unfinished.add(reservation);
    return reservation;
  }

  /** Throws unless one more session, beside `others` launches not finished, leaves the floor. */
  private checkMemory(others: number): void {
    const floor = this.limits.minFreeMemoryMb;
    if (floor <= 0) return;
    const free = this.available();
    const left = free - (others + 1) * this.sessionMemoryMb;
    if (left >= floor) return;
    if (this.sessionMemoryMb === 0) {
      throw new CapacityExhaustedError(`Only ${free} MiB of memory available, under the ${floor} MiB floor (WHATSAPP_MIN_FREE_MEMORY_MB)`, 30);
    }
    throw new CapacityExhaustedError(
      `Not enough memory for another session: ${free} MiB available, less ${this.sessionMemoryMb} MiB (WHATSAPP_SESSION_MEMORY_MB) for it and for each of ${others} launches not finished, leaves ${left} MiB, under the ${floor} MiB floor (WHATSAPP_MIN_FREE_MEMORY_MB)`,
      30,
    );
  }
}
