import { validateSessions } from './worker-client';

const ok = { session_id: 's1', workspace_id: 'w1', status: 'connected', phone_number: '6281', updated_at: 'x' };

describe('validateSessions', () => {
  it('keeps valid entries and normalises phone and reason', () => {
    const snapshot = validateSessions([{ ...ok, phone_number: '' }], undefined);
    expect(snapshot).toEqual({ sessions: [{ ...ok, phone_number: null, reason: null }], invalid: [] });
  });

  it.each([
    [{ ...ok, status: 'online' }, { session_id: 's1', reason: 'unknown status "online"' }],
    [{ ...ok, status: undefined }, { session_id: 's1', reason: 'unknown status missing' }],
    [{ ...ok, session_id: undefined }, { session_id: null, reason: 'invalid session_id missing' }],
    [{ ...ok, session_id: '../etc' }, { session_id: null, reason: 'invalid session_id "../etc"' }],
    [{ ...ok, workspace_id: 7 }, { session_id: 's1', reason: 'invalid workspace_id 7' }],
    [null, { session_id: null, reason: 'invalid session_id missing' }],
    ['text', { session_id: null, reason: 'invalid session_id missing' }],
  ])('refuses %j', (entry, invalid) => {
    expect(validateSessions([entry], undefined)).toEqual({ sessions: [], invalid: [invalid] });
  });

  it('trusts neither copy of a session listed twice', () => {
    const snapshot = validateSessions([{ ...ok }, { ...ok, status: 'failed' }], undefined);
    expect(snapshot).toEqual({ sessions: [], invalid: [{ session_id: 's1', reason: 'listed more than once' }] });
  });

  it('ignores other workspaces when one is asked for', () => {
    const snapshot = validateSessions([{ ...ok }, { ...ok, session_id: 's2', workspace_id: 'w2' }], 'w2');
    expect(snapshot.sessions.map((s) => s.session_id)).toEqual(['s2']);
  });
});
