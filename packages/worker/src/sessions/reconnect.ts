/** How reconnect attempts (and webhook retries) are spaced. */
export interface BackoffPolicy {
  /** Delay before the first retry; doubles for each following one. */
  baseDelayMs: number;
  /** Upper bound of one delay. */
  maxDelayMs: number;
}

/**
 * Delay before retry number `attempt` (1-based): exponential, capped, with "equal jitter" (half
 * fixed, half random) so that sessions lost together do not all relaunch Chromium at once.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** What to do after a session is lost: retry after a delay, or give up (`failed`). */
export type ReconnectDecision = { action: 'retry'; attempt: number; delayMs: number } | { action: 'give_up' };

/** Pure decision for the manager: `attemptsMade` reconnects already tried since the last `connected`. */
export function nextReconnect(
  policy: BackoffPolicy & { maxAttempts: number },
  attemptsMade: number,
  random: () => number = Math.random,
): ReconnectDecision {
  if (attemptsMade >= policy.maxAttempts) return { action: 'give_up' };
  const attempt = attemptsMade + 1;
  return { action: 'retry', attempt, delayMs: backoffDelay(policy, attempt, random) };
}
