import { AuthThrottle } from './auth-throttle';

describe('AuthThrottle', () => {
  it('closes an address at its maxFailures-th failure, for the rest of the window, and says so once', () => {
    let now = 0;
    const throttle = new AuthThrottle({ maxFailures: 3, windowMs: 10_000, now: () => now });
    expect([throttle.failed('a'), throttle.failed('a'), throttle.failed('a'), throttle.failed('a')]).toEqual([false, false, true, false]);
    now = 2500;
    expect(throttle.refusedFor('a')).toBe(8);
    expect(throttle.refusedFor('b')).toBeUndefined();
    now = 9999;
    expect(throttle.refusedFor('a')).toBe(1);
    now = 10_000;
    expect(throttle.refusedFor('a')).toBeUndefined();
  });

  it('remembers at most maxAddresses, forgetting expired windows first, then the oldest', () => {
    let now = 0;
    const throttle = new AuthThrottle({ maxFailures: 1, windowMs: 1000, maxAddresses: 2, now: () => now });
    throttle.failed('old');
    now = 600;
    throttle.failed('a');
    now = 1200; // old has expired
    throttle.failed('b');
    expect([throttle.refusedFor('a'), throttle.refusedFor('b')]).toEqual([1, 1]);
    throttle.failed('c'); // none expired: a, the oldest, goes
    expect([throttle.refusedFor('a'), throttle.refusedFor('b'), throttle.refusedFor('c')]).toEqual([undefined, 1, 1]);
  });
});
