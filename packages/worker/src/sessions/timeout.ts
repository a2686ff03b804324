/** Thrown by {@link withTimeout} when the promise did not settle in time. */
export class TimeoutError extends Error {
  readonly code = 'timeout';
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

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
