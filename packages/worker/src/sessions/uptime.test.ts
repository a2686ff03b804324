import { uptimeShare, WORKER_STARTED, WORKER_STOPPED, type HistoryEntry } from './uptime';

// A fake clock: every time is a literal, the window is [T0, T0 + 1 h].
const T0 = new Date('2026-01-01T00:00:00.000Z');
const NOW = new Date('2026-01-01T01:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000).toISOString();
const status = (minutes: number, from: HistoryEntry['from'], to: HistoryEntry['to'], reason: string | null = null): HistoryEntry => ({ at: at(minutes), from, to, reason });
const worker = (minutes: number, reason: string): HistoryEntry => ({ at: at(minutes), from: null, to: null, reason });

describe('uptimeShare', () => {
  it('is null with no entries (never meant to run)', () => {
    expect(uptimeShare([], T0, NOW)).toBeNull();
  });

  it('is 1 for a session connected before the window and throughout it', () => {
    expect(uptimeShare([status(-30, null, 'initializing'), status(-29, 'initializing', 'connected')], T0, NOW)).toBe(1);
  });

  it('counts from a transition exactly at the window start and up to one exactly at now', () => {
    const entries = [status(0, null, 'initializing'), status(15, 'initializing', 'connected'), status(60, 'connected', 'reconnecting', 'BROWSER_GONE')];
    expect(uptimeShare(entries, T0, NOW)).toBeCloseTo(45 / 60, 10);
  });

  it('counts a worker down period (crash: stop at the last heartbeat, then start) as down', () => {
    const entries = [
      status(-10, 'initializing', 'connected'),
      worker(20, WORKER_STOPPED),
      worker(30, WORKER_STARTED),
      status(30, null, 'initializing'),
      status(31, 'initializing', 'connected'),
    ];
    // Down from 20 to 31: 11 minutes of 60.
    expect(uptimeShare(entries, T0, NOW)).toBeCloseTo(49 / 60, 10);
  });

  it('leaves out the time a session was stopped on purpose (not meant to run)', () => {
    const entries = [
      status(-5, 'initializing', 'connected'),
      status(10, 'connected', 'disconnected', 'STOPPED'),
      status(40, null, 'initializing'),
      status(50, 'initializing', 'connected'),
    ];
    // Meant to run 0-10 (up) and 40-60 (up 50-60): 20 up of 30.
    expect(uptimeShare(entries, T0, NOW)).toBeCloseTo(20 / 30, 10);
  });

  it('is null for a session stopped on purpose before the window and never started again', () => {
    expect(uptimeShare([status(-20, 'connected', 'disconnected', 'LOGGED_OUT')], T0, NOW)).toBeNull();
  });

  it('counts a session that failed or gave up as down, still meant to run', () => {
    const entries = [status(-5, 'initializing', 'connected'), status(30, 'connected', 'failed', 'LAUNCH_FAILED')];
    expect(uptimeShare(entries, T0, NOW)).toBeCloseTo(0.5, 10);
  });

  it('ignores entries after now and takes them in time order whatever the input order', () => {
    const entries = [status(70, 'connected', 'failed'), status(30, 'initializing', 'connected'), status(0, null, 'initializing')];
    expect(uptimeShare(entries, T0, NOW)).toBeCloseTo(0.5, 10);
  });
});
