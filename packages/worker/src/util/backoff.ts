/** How retries are spaced inside the worker (reconnects, webhook deliveries), in milliseconds. */
export interface RetryDelays {
  /** Delay before the first retry; doubles for each following one. */
  baseDelayMs: number;
  /** Upper bound of one delay. */
  maxDelayMs: number;
}

/**
 * Delay before retry number `attempt` (1-based): exponential and capped, with jitter. `equal`
 * (the default) keeps half of the delay fixed and draws the other half; `full` draws the whole
 * delay, which spreads retries that started together (a mass disconnect) over the whole window.
 */
export function backoffDelay(policy: RetryDelays, attempt: number, random: () => number = Math.random, jitter: 'equal' | 'full' = 'equal'): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  return jitter === 'full' ? Math.round(random() * ceiling) : Math.round(ceiling / 2 + random() * (ceiling / 2));
}
