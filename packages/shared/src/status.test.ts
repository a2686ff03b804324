import { isDeadStatus, isSessionStatus, SESSION_STATUSES } from './status';
import { isValidId } from './ids';

describe('status vocabulary', () => {
  it('lists the contract statuses in order', () => {
    expect(SESSION_STATUSES).toEqual([
      'initializing',
      'qr_scanning',
      'authenticated',
      'connected',
      'reconnecting',
      'disconnected',
      'failed',
    ]);
  });

  it('accepts only vocabulary words', () => {
    expect(isSessionStatus('connected')).toBe(true);
    expect(isSessionStatus('CONNECTED')).toBe(false);
    expect(isSessionStatus('online')).toBe(false);
    expect(isSessionStatus(undefined)).toBe(false);
    expect(isSessionStatus(3)).toBe(false);
  });

  it('treats disconnected and failed as dead, nothing else', () => {
    expect(SESSION_STATUSES.filter(isDeadStatus)).toEqual(['disconnected', 'failed']);
  });
});

describe('ids', () => {
  it.each(['1', 'webjs_1_1763300356_ot6RUaMF', 'a-b_C', 'x'.repeat(100)])('accepts %s', (id) => {
    expect(isValidId(id)).toBe(true);
  });

  it.each(['', '../etc', 'a/b', 'a b', 'x'.repeat(101), 'é', '1\n'])('rejects %j', (id) => {
    expect(isValidId(id)).toBe(false);
  });
});
