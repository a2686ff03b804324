import { StopWaiting, waitFor } from './wait';

describe('waitFor', () => {
  it('resolves with the first truthy answer, taking a throwing check as "not yet"', async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls += 1;
        if (calls === 1) throw new Error('not up yet');
        return calls === 3 ? 'ready' : undefined;
      },
      'the third call',
      { intervalMs: 1 },
    );
    expect(value).toBe('ready');
    expect(calls).toBe(3);
  });

  it('gives up after the timeout, naming what it waited for and the last error', async () => {
    await expect(
      waitFor(
        () => {
          throw new Error('connection refused');
        },
        'the worker',
        { timeoutMs: 30, intervalMs: 5 },
      ),
    ).rejects.toThrow('timed out after 30 ms waiting for the worker: connection refused');
  });

  it('takes a number as the timeout', async () => {
    await expect(waitFor(() => false, 'never', 10)).rejects.toThrow('timed out after 10 ms waiting for never');
  });

  it('stops at once on StopWaiting and when its signal is aborted', async () => {
    let calls = 0;
    const stop = waitFor(
      () => {
        calls += 1;
        throw new StopWaiting('the process exited');
      },
      'a process',
      { timeoutMs: 10_000 },
    );
    await expect(stop).rejects.toThrow('the process exited');
    expect(calls).toBe(1);

    const controller = new AbortController();
    const interrupted = waitFor(() => false, 'Ctrl-C', { timeoutMs: 10_000, intervalMs: 5, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(interrupted).rejects.toThrow('stopped waiting for Ctrl-C: interrupted');
  });
});
