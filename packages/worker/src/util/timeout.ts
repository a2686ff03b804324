/** Thrown by {@link withTimeout} when the promise did not settle in time; callers recognise it by class. */
export class TimeoutError extends Error {
  readonly code = 'timeout';
  override readonly name = 'TimeoutError';
}

/**
 * Settles like `promise`, or rejects with a `TimeoutError` after `ms`. The promise is left to
 * itself (a late rejection is swallowed: the caller has moved on).
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
