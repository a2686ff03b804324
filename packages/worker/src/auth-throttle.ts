/** How failed authentications are throttled per client address. */
export interface AuthThrottleOptions {
  /** Failed attempts one address may make per window before it is refused (10). */
  maxFailures?: number;
  /** The window, from an address's first failure; refused until it ends (60 s). */
  windowMs?: number;
  /** Addresses remembered at most; beyond it the oldest are forgotten first (10,000). */
  maxAddresses?: number;
  /** The clock (tests pass their own). */
  now?: () => number;
}

interface Window {
  startedAt: number;
  failures: number;
}

/**
 * Failed API key attempts counted per client address in a fixed window: the `maxFailures`-th
 * failure closes the address until its window ends (every request, the right key included, answers
 * 429 meanwhile, so a guesser learns nothing). Written by hand: @fastify/rate-limit counts every
 * request before the route runs, and cannot count only the failures of a check made in a hook.
 */
export class AuthThrottle {
  private readonly windows = new Map<string, Window>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;

  constructor(options: AuthThrottleOptions = {}) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxAddresses = options.maxAddresses ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Seconds until `address` may try again; undefined when it may now. */
  refusedFor(address: string): number | undefined {
    const window = this.current(address);
    if (!window || window.failures < this.maxFailures) return undefined;
    return Math.max(1, Math.ceil((window.startedAt + this.windowMs - this.now()) / 1000));
  }

  /** Counts a failure; true when it is the one that closes the address (log it once). */
  failed(address: string): boolean {
    let window = this.current(address);
    if (!window) {
      this.forgetExpired();
      window = { startedAt: this.now(), failures: 0 };
      this.windows.set(address, window);
    }
    window.failures++;
    return window.failures === this.maxFailures;
  }

  private current(address: string): Window | undefined {
    const window = this.windows.get(address);
    if (window && this.now() - window.startedAt >= this.windowMs) {
      this.windows.delete(address);
      return undefined;
    }
    return window;
  }

  /** Keeps the map bounded whatever the number of addresses: expired windows first, then the oldest. */
  private forgetExpired(): void {
    if (this.windows.size < this.maxAddresses) return;
    const now = this.now();
    for (const [address, window] of this.windows) {
      if (now - window.startedAt >= this.windowMs) this.windows.delete(address);
    }
    for (const address of this.windows.keys()) {
      if (this.windows.size < this.maxAddresses) break;
      this.windows.delete(address);
    }
  }
}
