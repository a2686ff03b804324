import { nextReconnect } from './reconnect-policy';

describe('reconnect policy', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1000 };

  it('gives up after the maximum number of attempts', () => {
    const limits = { ...policy, maxAttempts: 3 };
    expect(nextReconnect(limits, 0, () => 0)).toEqual({ action: 'retry', attempt: 1, delayMs: 50 });
    expect(nextReconnect(limits, 2, () => 0)).toEqual({ action: 'retry', attempt: 3, delayMs: 200 });
    expect(nextReconnect(limits, 3)).toEqual({ action: 'give_up' });
    expect(nextReconnect({ ...limits, maxAttempts: 0 }, 0)).toEqual({ action: 'give_up' });
  });
});
