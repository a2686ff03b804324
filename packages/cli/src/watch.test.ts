import { ConfigError, WorkerUnavailableError } from './errors';
import { watch } from './watch';

describe('watch', () => {
  it('runs again after each run until stopped, and a stop during a run ends the loop after it (exit 0)', async () => {
    const stop = new AbortController();
    const runs: number[] = [];
    const code = await watch(
      async () => {
        runs.push(runs.length + 1);
        if (runs.length === 3) stop.abort();
        return 0;
      },
      { intervalMs: 1, stop: stop.signal, onError: () => 1 },
    );
    expect(code).toBe(0);
    expect(runs).toEqual([1, 2, 3]);
  });

  it('reports a run that could not sync and goes on; ends on a configuration error with its code', async () => {
    const stop = new AbortController();
    const errors: unknown[] = [];
    let run = 0;
    const code = await watch(
      async () => {
        run++;
        if (run === 1) throw new WorkerUnavailableError('down');
        throw new ConfigError('bad');
      },
      { intervalMs: 1, stop: stop.signal, onError: (error) => (errors.push(error), 2) },
    );
    expect(code).toBe(2);
    expect(errors.map((e) => (e as Error).message)).toEqual(['down', 'bad']);
  });

  it('ends a pause at once when stopped', async () => {
    const stop = new AbortController();
    const done = watch(async () => (setImmediate(() => stop.abort()), 0), { intervalMs: 3_600_000, stop: stop.signal, onError: () => 1 });
    await expect(done).resolves.toBe(0);
  });
});
