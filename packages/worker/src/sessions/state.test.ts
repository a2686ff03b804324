import { SESSION_STATUSES } from '@wa-session-sync/shared';
import { TRANSITIONS, transition } from './state';

describe('session state machine', () => {
  it('uses only the contract vocabulary', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...SESSION_STATUSES].sort());
    for (const targets of Object.values(TRANSITIONS)) {
      for (const next of Object.values(targets)) expect(SESSION_STATUSES).toContain(next);
    }
  });

  it.each([
    ['initializing', 'qr', 'qr_scanning'],
    ['initializing', 'ready', 'connected'],
    ['qr_scanning', 'authenticated', 'authenticated'],
    ['authenticated', 'ready', 'connected'],
    ['connected', 'lost', 'reconnecting'],
    ['connected', 'logout', 'qr_scanning'],
    ['connected', 'dropped', 'disconnected'],
    ['connected', 'stop', 'disconnected'],
    ['reconnecting', 'authenticated', 'reconnecting'],
    ['reconnecting', 'ready', 'connected'],
    ['reconnecting', 'lost', 'reconnecting'],
    ['reconnecting', 'exhausted', 'failed'],
    ['reconnecting', 'qr', 'qr_scanning'],
    ['failed', 'start', 'initializing'],
    ['disconnected', 'start', 'initializing'],
  ] as const)('%s --%s--> %s', (from, event, to) => {
    expect(transition(from, event)).toBe(to);
  });

  it.each([
    ['disconnected', 'ready'],
    ['failed', 'ready'],
    ['failed', 'lost'],
    ['connected', 'qr'],
    ['connected', 'authenticated'],
    ['connected', 'start'],
    ['disconnected', 'lost'],
  ] as const)('in %s, ignores %s (a stale event never revives a dead session)', (from, event) => {
    expect(transition(from, event)).toBeNull();
  });
});
