import type { Logger } from '../log';
import { errorMessage } from '../util';
import { leaseDeadlines, MIN_LEASE_TTL_MS, renewIntervalMs, type LeaseDeadlines } from './deadlines';
import { startWatchdog, type Watchdog } from './watchdog';

/** What an acquisition answers: the fencing token, or who holds the session and until when. */
export type AcquireResult = { acquired: true; token: string } | { acquired: false; holder: string; expiresAt: Date };

/** The lease statements, implemented over Postgres by the worker (shared/db/leases.ts: acquireLease, renewLeases, releaseLease). */
export interface LeaseBackend {
  /** Acquires the session's lease, or takes it over once expired, in one statement. */
  acquire(a: { sessionId: string; workspaceId: string }): Promise<AcquireResult>;
  /** Renews every lease given, in one statement; answers the session ids it renewed. */
  renew(leases: ReadonlyArray<{ sessionId: string; token: string }>): Promise<Set<string>>;
  /** Releases the lease if it is still held under `token`; answers whether it was. */
  release(sessionId: string, token: string): Promise<boolean>;
}

/** Why a held lease is given up: the database did not renew it, or it was not renewed in time. */
export type LeaseLostReason = 'not_renewed' | 'deadline';

/** The timer functions the keeper uses (tests pass fake ones; jest's modern fake timers also work with the default). */
export interface LeaseTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface LeaseKeeperOptions {
  backend: LeaseBackend;
  /** A lease's life (WHATSAPP_LEASE_TTL_SECONDS in ms), at least {@link MIN_LEASE_TTL_MS}. */
  ttlMs: number;
  logger: Logger;
  /** Called when a held lease is lost or about to lapse: the worker must stop that session's browser now. */
  onLost(sessionId: string, why: LeaseLostReason): void;
  /**
   * Monotonic time in ms; default `process.hrtime.bigint()` in ms. The real watchdog compares
   * kill moments with `process.hrtime.bigint()`, so a clock given here must count the same way.
   */
  clock?: () => number;
  /** Default: the global timers, unref'd (the lease loop alone does not keep the worker alive). */
  timers?: LeaseTimers;
  /** Default: the real watchdog thread, started with the keeper. */
  watchdog?: Watchdog;
}

/** A lease this worker holds. */
interface HeldLease {
  token: string;
  /** When the last statement that acquired or renewed it was sent (monotonic ms). */
  validFromMs: number;
  deadlines: LeaseDeadlines;
  stopTimer: unknown;
}

/** One renewal statement on its way. */
interface Renewal {
  sentAtMs: number;
}

const hrtimeMs = (): number => Number(process.hrtime.bigint()) / 1e6;

const globalTimers: LeaseTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  setInterval: (callback, ms) => setInterval(callback, ms).unref(),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/**
 * Holds this worker's session leases: acquires them, renews them all in one statement every third
 * of their life, and gives each up at its stop moment unless a renewal sent in time extended it,
 * so a worker cut off from Postgres (refused or hanging alike) stops a session's browser before
 * another worker could take the session. The watchdog thread kills a browser still there at the
 * kill moment, even if this thread's event loop is stuck. The moments are in `deadlines.ts`.
 *
 * A lease lost (onLost) is forgotten: it is not renewed or released again, and its browser stays
 * armed in the watchdog until {@link detachBrowser}, which the worker calls once Chromium has exited.
 */
export class LeaseKeeper {
  private readonly backend: LeaseBackend;
  private readonly ttlMs: number;
  private readonly logger: Logger;
  private readonly onLost: LeaseKeeperOptions['onLost'];
  private readonly clock: () => number;
  private readonly timers: LeaseTimers;
  private readonly watchdog: Watchdog;
  private readonly leases = new Map<string, HeldLease>();
  /** Session id → the process group of its browser. */
  private readonly browsers = new Map<string, number>();
  private renewTimer: unknown = null;
  private renewal: Renewal | null = null;
  /** Whether the last renewal failed (or hung), so a failure is logged once, not every interval. */
  private renewalFailing = false;
  private closed = false;

  constructor(options: LeaseKeeperOptions) {
    if (!Number.isFinite(options.ttlMs) || options.ttlMs < MIN_LEASE_TTL_MS) {
      throw new RangeError(`a lease's life must be at least ${MIN_LEASE_TTL_MS} ms (got ${options.ttlMs}): raise WHATSAPP_LEASE_TTL_SECONDS`);
    }
    this.backend = options.backend;
    this.ttlMs = options.ttlMs;
    this.logger = options.logger;
    this.onLost = options.onLost;
    this.clock = options.clock ?? hrtimeMs;
    this.timers = options.timers ?? globalTimers;
    this.watchdog = options.watchdog ?? startWatchdog(options.logger);
  }

  /** Begins the renewal loop: every third of the life, one statement for every lease held, never two at once. */
  start(): void {
    if (this.renewTimer !== null || this.closed) return;
    this.renewTimer = this.timers.setInterval(() => this.tick(), renewIntervalMs(this.ttlMs));
  }

  /**
   * Acquires the session's lease. Its deadlines count from when the statement was sent. An answer
   * that comes after its own stop moment (Postgres that slow) is held only to be lost at once:
   * the caller checks {@link tokenOf} before launching.
   */
  async acquire(sessionId: string, workspaceId: string): Promise<AcquireResult> {
    const sentAtMs = this.clock();
    const result = await this.backend.acquire({ sessionId, workspaceId });
    if (result.acquired && !this.closed) this.hold(sessionId, result.token, sentAtMs);
    return result;
  }

  /** The current token if this worker holds a lease it can still use (before its stop moment), else null. */
  tokenOf(sessionId: string): string | null {
    const lease = this.leases.get(sessionId);
    return lease && this.clock() < lease.deadlines.stopAtMs ? lease.token : null;
  }

  /** The process group (the browser's pid: puppeteer launches it detached) that the watchdog kills at the kill moment. */
  attachBrowser(sessionId: string, pid: number): void {
    this.browsers.set(sessionId, pid);
    if (this.leases.has(sessionId)) this.armWatchdog(sessionId);
    else this.logger.warn('Browser attached to a session this worker holds no lease for: the watchdog does not guard it', { sessionId, pid });
  }

  /** Forgets the session's browser (it has exited): the watchdog will not kill its process group. */
  detachBrowser(sessionId: string): void {
    if (!this.browsers.delete(sessionId)) return;
    this.watchdog.clear(sessionId);
  }

  /**
   * Releases the lease (on a clean stop, after the final save) and forgets it. Never throws: a
   * release that fails or does not answer before the lease would lapse anyway is logged, and the
   * lease lapses by itself.
   */
  async release(sessionId: string): Promise<void> {
    const lease = this.leases.get(sessionId);
    if (!lease) return;
    this.forget(sessionId);
    const boundMs = Math.max(0, lease.deadlines.lapseAtMs - this.clock());
    let timer: unknown;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = this.timers.setTimeout(() => resolve('timeout'), boundMs);
    });
    try {
      const released = await Promise.race([this.backend.release(sessionId, lease.token), timeout]);
      if (released === 'timeout') {
        this.logger.warn(`Lease release failed: no answer within ${Math.round(boundMs)} ms; the lease lapses by itself`, { sessionId });
      } else if (!released) {
        this.logger.warn('Lease was no longer held at release (it had lapsed or been taken over)', { sessionId });
      }
    } catch (error) {
      this.logger.warn(`Lease release failed: ${errorMessage(error)}; the lease lapses by itself`, { sessionId });
    } finally {
      this.timers.clearTimeout(timer);
    }
  }

  /** The leases held, with their tokens. */
  held(): Array<{ sessionId: string; token: string }> {
    return [...this.leases].map(([sessionId, lease]) => ({ sessionId, token: lease.token }));
  }

  /**
   * Stops the renewal loop, the stop timers and the watchdog thread; releases nothing (a lease
   * left lapses by itself). Call it once the sessions' browsers have closed: pending kills are dropped.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.renewTimer !== null) this.timers.clearInterval(this.renewTimer);
    for (const lease of this.leases.values()) this.timers.clearTimeout(lease.stopTimer);
    await this.watchdog.stop();
  }

  private hold(sessionId: string, token: string, validFromMs: number): void {
    const previous = this.leases.get(sessionId);
    if (previous) this.timers.clearTimeout(previous.stopTimer);
    const lease: HeldLease = { token, validFromMs, deadlines: leaseDeadlines(this.ttlMs, validFromMs), stopTimer: null };
    this.leases.set(sessionId, lease);
    this.armStop(sessionId, lease);
    if (this.browsers.has(sessionId)) this.armWatchdog(sessionId);
  }

  /** Moves the lease's deadlines to count from `sentAtMs`, a renewal that the database confirmed. */
  private extend(sessionId: string, lease: HeldLease, sentAtMs: number): void {
    if (sentAtMs <= lease.validFromMs) return;
    this.timers.clearTimeout(lease.stopTimer);
    lease.validFromMs = sentAtMs;
    lease.deadlines = leaseDeadlines(this.ttlMs, sentAtMs);
    this.armStop(sessionId, lease);
    if (this.browsers.has(sessionId)) this.armWatchdog(sessionId);
  }

  private armStop(sessionId: string, lease: HeldLease): void {
    const delayMs = Math.max(0, lease.deadlines.stopAtMs - this.clock());
    lease.stopTimer = this.timers.setTimeout(() => this.stopDue(sessionId, lease), delayMs);
  }

  private stopDue(sessionId: string, lease: HeldLease): void {
    if (this.leases.get(sessionId) !== lease || this.closed) return;
    // Timers count on the event loop's clock: never act before the monotonic moment itself.
    if (this.clock() < lease.deadlines.stopAtMs) return this.armStop(sessionId, lease);
    this.forget(sessionId);
    this.logger.warn('Lease not renewed in time: stopping the session before it could lapse', { sessionId });
    this.lost(sessionId, 'deadline');
  }

  private armWatchdog(sessionId: string): void {
    const pgid = this.browsers.get(sessionId);
    const lease = this.leases.get(sessionId);
    if (pgid === undefined || !lease) return;
    this.watchdog.set(sessionId, pgid, BigInt(Math.round(lease.deadlines.killAtMs * 1e6)));
  }

  private forget(sessionId: string): void {
    const lease = this.leases.get(sessionId);
    if (!lease) return;
    this.timers.clearTimeout(lease.stopTimer);
    this.leases.delete(sessionId);
  }

  private lost(sessionId: string, why: LeaseLostReason): void {
    try {
      this.onLost(sessionId, why);
    } catch (error) {
      this.logger.error(`Could not stop a session whose lease was lost: ${errorMessage(error)}`, { sessionId, why });
    }
  }

  private tick(): void {
    if (this.closed) return;
    if (this.renewal) {
      const pendingMs = this.clock() - this.renewal.sentAtMs;
      // Nothing it could still answer extends a lease past now (its leases would lapse at
      // sentAt + ttl): stop waiting for it, or the leases acquired since would never be renewed.
      if (pendingMs < this.ttlMs) {
        this.renewalFailed(`the previous renewal has not answered after ${Math.round(pendingMs)} ms`);
        return;
      }
    }
    if (this.leases.size === 0) return;
    void this.renew();
  }

  private async renew(): Promise<void> {
    const batch = this.held();
    const renewal: Renewal = { sentAtMs: this.clock() };
    this.renewal = renewal;
    let renewed: Set<string>;
    try {
      renewed = await this.backend.renew(batch);
    } catch (error) {
      if (this.renewal === renewal) this.renewalFailed(errorMessage(error));
      return;
    } finally {
      if (this.renewal === renewal) this.renewal = null;
    }
    if (this.closed) return;
    if (this.renewalFailing) {
      this.renewalFailing = false;
      this.logger.info('Lease renewal recovered');
    }
    // An answer is applied even if it came late: the database set each expiry no earlier than
    // the statement was sent, and a lease it did not renew is not ours any more.
    for (const { sessionId, token } of batch) {
      const lease = this.leases.get(sessionId);
      if (!lease || lease.token !== token) continue;
      if (renewed.has(sessionId)) {
        this.extend(sessionId, lease, renewal.sentAtMs);
      } else {
        this.forget(sessionId);
        this.logger.warn('Lease not renewed: the database no longer has it under this worker; stopping the session', { sessionId });
        this.lost(sessionId, 'not_renewed');
      }
    }
  }

  private renewalFailed(detail: string): void {
    if (this.renewalFailing) return;
    this.renewalFailing = true;
    this.logger.error(`Lease renewal failed: ${detail}`, { leases: this.leases.size });
  }
}
