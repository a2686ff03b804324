import { isWaSyncError } from './errors';

// `sync-sessions --watch`: the sync as a fleet's controller, one run after another. Each run is
// the cron run as it is (level-based: it reads everything again and never depends on the run
// before), so the loop holds no state but the stop flag. Two copies are safe: the sync's lock
// makes the one that does not get it skip its run (and say so), never overlap.

export interface WatchOptions {
  /** Wait between the end of one run and the start of the next. */
  intervalMs: number;
  /** Aborted by SIGTERM/SIGINT: the run in progress finishes, then the loop ends. */
  stop: AbortSignal;
  /** A run that threw: reported, and the loop goes on, unless it was a configuration error (exit 2). */
  onError(error: unknown): number;
}

/**
 * Runs `runOnce` until `stop` is aborted, waiting `intervalMs` after each run. Resolves to 0 once
 * stopped, or to 2 when a run fails for its configuration (it would fail the same way every time:
 * better to end, loudly, and let the supervisor show it).
 */
export async function watch(runOnce: () => Promise<number>, options: WatchOptions): Promise<number> {
  while (!options.stop.aborted) {
    try {
      await runOnce();
    } catch (error) {
      const code = options.onError(error);
      if (isWaSyncError(error) && error.exitCode === 2) return code;
    }
    await pause(options.intervalMs, options.stop);
  }
  return 0;
}

/** Resolves after `ms`, or at once when `stop` is aborted. */
function pause(ms: number, stop: AbortSignal): Promise<void> {
  if (stop.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stop.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop.addEventListener('abort', done);
  });
}

/**
 * An AbortSignal aborted by the first SIGTERM or SIGINT, and how to stop listening. A second
 * signal finds no listener of ours: Node's default ends the process at once.
 */
export function stopOnSignals(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = () => {
    dispose();
    controller.abort();
  };
  const dispose = () => {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return { signal: controller.signal, dispose };
}
