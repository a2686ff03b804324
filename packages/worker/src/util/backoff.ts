/** How retries are spaced inside the worker (reconnects, webhook deliveries), in milliseconds. */
export interface RetryDelays {
  /** Delay before the first retry; doubles for each following one. */
  baseDelayMs: number;
  /** Upper bound of one delay. */
  maxDelayMs: number;
}

/**
 * Delay before retry number `attempt` (1-based): exponential, capped, with "equal jitter" (half
 * fixed, half random) so that sessions lost together do not all relaunch Chromium at once.
 */
export function backoffDelay(policy: RetryDelays, attempt: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
