import fs from 'node:fs';
import os from 'node:os';
import { CapacityExhaustedError } from '../errors';

export interface CapacityLimits {
  /** Sessions holding a browser at most (`WHATSAPP_MAX_SESSIONS`); undefined: no cap. */
  maxSessions?: number;
  /** Available memory a start leaves at least (`WHATSAPP_MIN_FREE_MEMORY_MB`); 0: no floor. */
  minFreeMemoryMb: number;
  /** MiB of memory available to new processes; read from the machine unless given. */
  availableMemoryMb?: () => number;
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

/** Decides whether one more session may start, given how many hold a browser now. */
export class Capacity {
  private readonly available: () => number;

  constructor(private readonly limits: CapacityLimits) {
    this.available = limits.availableMemoryMb ?? availableMemoryMb;
  }

  get max(): number | null {
    return this.limits.maxSessions ?? null;
  }

  /** Throws `CapacityExhaustedError` when a new session must not start. */
  admit(used: number): void {
    const { maxSessions, minFreeMemoryMb } = this.limits;
    if (maxSessions !== undefined && used >= maxSessions) {
      throw new CapacityExhaustedError(`This worker runs its maximum of ${maxSessions} sessions (WHATSAPP_MAX_SESSIONS); start it on another worker or stop one`, 60);
    }
    if (minFreeMemoryMb > 0) {
      const free = this.available();
      if (free < minFreeMemoryMb) {
        throw new CapacityExhaustedError(`Only ${free} MiB of memory available, under the ${minFreeMemoryMb} MiB floor (WHATSAPP_MIN_FREE_MEMORY_MB)`, 30);
      }
    }
  }
}
