import { leaseDeadlines, MIN_LEASE_TTL_MS, renewIntervalMs } from './deadlines';

describe('lease deadlines', () => {
  it('stops at 3/4, kills at 7/8 and lapses at the full life, counted from when the statement was sent', () => {
    expect(leaseDeadlines(30_000, 1_000_000)).toEqual({ stopAtMs: 1_022_500, killAtMs: 1_026_250, lapseAtMs: 1_030_000 });
    expect(leaseDeadlines(6000, 0)).toEqual({ stopAtMs: 4500, killAtMs: 5250, lapseAtMs: 6000 });
  });

  it('renews every third of the life, so two renewals are tried before the stop', () => {
    expect(renewIntervalMs(30_000)).toBe(10_000);
    expect(renewIntervalMs(10_000)).toBe(3333);
    const { stopAtMs } = leaseDeadlines(30_000, 0);
    expect(2 * renewIntervalMs(30_000)).toBeLessThan(stopAtMs);
  });

  it('leaves 750 ms for a graceful close and 750 ms for the kill to land at the shortest life', () => {
    expect(MIN_LEASE_TTL_MS).toBe(6000);
    const { stopAtMs, killAtMs, lapseAtMs } = leaseDeadlines(MIN_LEASE_TTL_MS, 0);
    expect(killAtMs - stopAtMs).toBe(750);
    expect(lapseAtMs - killAtMs).toBe(750);
  });
});
