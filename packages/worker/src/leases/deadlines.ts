/**
 * The arithmetic that keeps one session on one worker: when a lease holder renews, stops its
 * browser, has it killed, and when the database would let another worker take the session.
 *
 * Every time is on this worker's monotonic clock, in milliseconds, counted from `validFrom`: the
 * moment the statement that acquired or last renewed the lease was SENT. The database sets
 * `expires_at = now() + ttl` when it runs the statement, which is never before it was sent, so the
 * lease cannot lapse in the database before `validFrom + ttl` here, however long the answer took
 * or whether it came at all. (The two clocks may drift apart by parts per million: microseconds
 * over a lease's life.)
 *
 *   validFrom ─ renew ttl/3 ─ renew 2ttl/3 ─ stop 3ttl/4 ─ kill 7ttl/8 ─ lapse ttl
 *
 * Two renewals are tried before the stop. Between stop and kill the worker closes Chromium
 * gracefully (ttl/8); between kill and lapse the watchdog's SIGKILL lands (ttl/8), with its check
 * period and the kernel closing the browser's sockets to spare.
 */

/**
 * The shortest lease life configuration accepts: at 6 s the graceful close between the stop and
 * the kill is bounded by 750 ms (ttl/8), about as short as closing a Chromium that holds a
 * WhatsApp page can be asked to be, and the kill lands 750 ms before the lapse, seven times the
 * watchdog's 100 ms check period. A shorter life would have every stop end in a SIGKILL, and a
 * renewal every 2 s or less per worker for nothing.
 */
export const MIN_LEASE_TTL_MS = 6000;

/** The moments that follow from one acquisition or renewal, on the monotonic clock (ms). */
export interface LeaseDeadlines {
  /** The worker stops the session's browser (gracefully) from here on; the lease is no longer used. */
  stopAtMs: number;
  /** The watchdog SIGKILLs the browser's process group if it is still there. */
  killAtMs: number;
  /** The earliest moment the database could let another worker acquire the lease. */
  lapseAtMs: number;
}

/** How often the holder renews its leases: a third of their life, so two tries fit before the stop. */
export function renewIntervalMs(ttlMs: number): number {
  return Math.floor(ttlMs / 3);
}

/** The stop, kill and lapse moments of a lease whose last acquiring or renewing statement was sent at `validFromMs`. */
export function leaseDeadlines(ttlMs: number, validFromMs: number): LeaseDeadlines {
  return {
    stopAtMs: validFromMs + (ttlMs * 3) / 4,
    killAtMs: validFromMs + (ttlMs * 7) / 8,
    lapseAtMs: validFromMs + ttlMs,
  };
}

