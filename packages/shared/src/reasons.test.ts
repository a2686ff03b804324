import { REASONS, stateReason } from './reasons';

describe('reasons', () => {
  it('are named by their own value', () => {
    for (const [name, value] of Object.entries(REASONS)) expect(value).toBe(name);
  });

  it('include the contract reasons', () => {
    expect(Object.values(REASONS)).toEqual(
      expect.arrayContaining(['LOGOUT', 'QR_TIMEOUT', 'PROBE_TIMEOUT', 'PROBE_FAILED', 'BROWSER_GONE', 'PAGE_CRASHED', 'LAUNCH_FAILED', 'CONFLICT', 'STOPPED']),
    );
  });

  it('name a probed state STATE_<state>', () => {
    expect(stateReason('CONFLICT')).toBe('STATE_CONFLICT');
    expect(stateReason(null)).toBe('STATE_UNKNOWN');
  });
});
