/** How long {@link waitFor} keeps asking, and how often. */
export interface WaitOptions {
  /** Give up after this long (20 s). */
  timeoutMs?: number;
  /** Ask again after this pause (50 ms). */
  intervalMs?: number;
  /** Stop at once, rejecting, when this is aborted (Ctrl-C in the demo). */
  signal?: AbortSignal;
}

/**
 * Thrown by a check to end {@link waitFor} at once with this error (a process it waits on has
 * exited, say); any other error is taken as "not yet" and retried until the timeout.
 */
export class StopWaiting extends Error {
  override readonly name = 'StopWaiting';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Asks `check` until it returns a truthy value and resolves with that value. A check that throws
 * counts as "not yet"; its last error is named in the timeout's message. `options` is the
 * timeout in milliseconds, or {@link WaitOptions}.
 */
export async function waitFor<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  options: number | WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 20_000, intervalMs = 50, signal } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    if (signal?.aborted) throw new Error(`stopped waiting for ${what}: interrupted`);
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      if (error instanceof StopWaiting) throw error;
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last === undefined ? '' : `: ${last instanceof Error ? last.message : String(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}
