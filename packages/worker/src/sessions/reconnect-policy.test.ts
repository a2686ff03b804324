import { nextReconnect } from './reconnect-policy';

describe('reconnect policy', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1000 };

  it('gives up after the maximum number of attempts', () => {
    const limits = { ...policy, maxAttempts: 3 };
    expect(nextReconnect(limits, 0, () => 0.5)).toEqual({ action: 'retry', attempt: 1, delayMs: 50 });
    expect(nextReconnect(limits, 2, () => 0.5)).toEqual({ action: 'retry', attempt: 3, delayMs: 200 });
    expect(nextReconnect(limits, 3)).toEqual({ action: 'give_up' });
    expect(nextReconnect({ ...limits, maxAttempts: 0 }, 0)).toEqual({ action: 'give_up' });
  });

  it('spreads the delay over the whole window (full jitter), so sessions lost together come back apart', () => {
    const limits = { ...policy, maxAttempts: 3 };
    expect(nextReconnect(limits, 0, () => 0)).toEqual({ action: 'retry', attempt: 1, delayMs: 0 });
    expect(nextReconnect(limits, 0, () => 1)).toEqual({ action: 'retry', attempt: 1, delayMs: 100 });
    expect(nextReconnect(limits, 9, () => 1)).toMatchObject({ action: 'give_up' });
    expect(nextReconnect({ ...limits, maxAttempts: 20 }, 9, () => 1)).toEqual({ action: 'retry', attempt: 10, delayMs: 1000 });
    // 200 sessions lost at once: their first retries land in every fifth of the window.
    const delays = Array.from({ length: 200 }, () => (nextReconnect(limits, 0) as { delayMs: number }).delayMs);
    const fifths = new Set(delays.map((d) => Math.min(4, Math.floor(d / 20))));
    expect(fifths).toEqual(new Set([0, 1, 2, 3, 4]));
  });
});
