import { backoffDelay, type RetryDelays } from '../util';

/** When a lost session is relaunched, and when the worker stops trying. */
export interface ReconnectPolicy extends RetryDelays {
  /** Attempts since the last `connected` before the session is `failed`. */
  maxAttempts: number;
}

/** What to do after a session is lost: retry after a delay, or give up (`failed`). */
export type ReconnectDecision = { action: 'retry'; attempt: number; delayMs: number } | { action: 'give_up' };

/**
 * Pure decision: `attemptsMade` reconnects already tried since the last `connected`. The delay is
 * drawn over the whole backoff window ("full jitter"): sessions lost together (a network blip, a
 * restart of WhatsApp's side) come back spread out rather than within the same second, and each
 * launch still takes its turn at the launch gate.
 */
export function nextReconnect(policy: ReconnectPolicy, attemptsMade: number, random: () => number = Math.random): ReconnectDecision {
  if (attemptsMade >= policy.maxAttempts) return { action: 'give_up' };
  const attempt = attemptsMade + 1;
  return { action: 'retry', attempt, delayMs: backoffDelay(policy, attempt, random, 'full') };
}
