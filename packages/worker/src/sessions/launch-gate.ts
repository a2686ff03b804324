import pLimit from 'p-limit';

/**
 * The one gate every Chromium launch goes through (restore, API start, reconnect, probe heal):
 * at most `concurrency` browsers start at once, first come first served, so after a mass
 * disconnect the sessions take turns instead of starting together. A launch is CPU-bound (Chromium
 * start, page load, injection): measured on two cores, two at once finished no restore sooner and
 * tripled `/health`'s p99.
 */
export class LaunchGate {
  private readonly limit: ReturnType<typeof pLimit>;

  constructor(
    concurrency: number,
    /** A launch holds its turn at most this long; a slower one goes on without it (its own timeout bounds it). */
    private readonly turnMs: number,
  ) {
    this.limit = pLimit(concurrency);
  }

  /** Runs `launch` in its turn; resolves or rejects as `launch` does. */
  async run<T>(launch: () => Promise<T>): Promise<T> {
    let result!: Promise<T>;
    await this.limit(() => {
      result = launch();
      let timer: NodeJS.Timeout | undefined;
      const turnOver = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.turnMs);
        timer.unref();
      });
      return Promise.race([result.then(() => undefined, () => undefined), turnOver]).finally(() => clearTimeout(timer));
    });
    return result;
  }

  /** Launches waiting for their turn. */
  get waiting(): number {
    return this.limit.pendingCount;
  }

  /** Launches holding a turn now. */
  get active(): number {
    return this.limit.activeCount;
  }
}
