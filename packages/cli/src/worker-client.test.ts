import type { WorkerSnapshot } from './sync/model';
import { validateSessions as validateWithIndex } from './worker-client';

/**
 * `validateSessions` with its index checked (when there is one, it gives each session its place
 * in `sessions`, and nothing else) and then left out, so that the cases below compare the rest.
 */
function validateSessions(entries: unknown[], workspaceId: string | undefined): Omit<WorkerSnapshot, 'index'> {
  const { index, ...snapshot } = validateWithIndex(entries, workspaceId);
  if (index) expect([...index]).toEqual(snapshot.sessions.map((session, i) => [session.session_id, i]));
  return snapshot;
}

// A phone number of 5 digits at least: shorter ones are not phone numbers (PHONE_NUMBER_PATTERN).
const ok = { session_id: 's1', workspace_id: 'w1', status: 'connected', phone_number: '62811801641', updated_at: 'x' };

describe('validateSessions', () => {
  it('keeps valid entries and normalises phone and reason', () => {
    const snapshot = validateSessions([{ ...ok, phone_number: '' }], undefined);
    expect(snapshot).toEqual({ sessions: [{ ...ok, phone_number: null, reason: null }], invalid: [], invalidValues: [] });
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
    expect(validateSessions([entry], undefined)).toEqual({ sessions: [], invalid: [invalid], invalidValues: [] });
  });

  it('trusts neither copy of a session listed twice', () => {
    const snapshot = validateSessions([{ ...ok }, { ...ok, status: 'failed' }], undefined);
    expect(snapshot).toEqual({ sessions: [], invalid: [{ session_id: 's1', reason: 'listed more than once' }], invalidValues: [] });
  });

  it('ignores other workspaces when one is asked for', () => {
    const snapshot = validateSessions([{ ...ok }, { ...ok, session_id: 's2', workspace_id: 'w2' }], 'w2');
    expect(snapshot.sessions.map((s) => s.session_id)).toEqual(['s2']);
  });
});

describe('the index validateSessions hands on to the planner', () => {
  it('gives each usable session its place in the list', () => {
    const snapshot = validateWithIndex([{ ...ok }, { ...ok, session_id: 's2', status: 'online' }, { ...ok, session_id: 's3' }], undefined);
    expect(snapshot.index).toEqual(new Map([['s1', 0], ['s3', 1]]));
  });

  it('is left out when a session listed twice was taken out of the list', () => {
    const snapshot = validateWithIndex([{ ...ok }, { ...ok, session_id: 's2' }, { ...ok, status: 'failed' }], undefined);
    expect(snapshot.sessions.map((s) => s.session_id)).toEqual(['s2']);
    expect(snapshot.index).toBeUndefined();
  });
});

describe('validateSessions against the shared session schema', () => {
  it.each([
    [{ ...ok, updated_at: undefined }, { session_id: 's1', reason: 'invalid updated_at missing' }],
    [{ ...ok, reason: 7 }, { session_id: 's1', reason: 'invalid reason 7' }],
    [{ ...ok, reconnect_attempts: -1 }, { session_id: 's1', reason: 'invalid reconnect_attempts -1' }],
    [{ ...ok, qr: {} }, { session_id: 's1', reason: 'invalid qr {}' }],
    [[ok], { session_id: null, reason: 'invalid session_id missing' }],
  ])('refuses %j', (entry, invalid) => {
    expect(validateSessions([entry], undefined)).toEqual({ sessions: [], invalid: [invalid], invalidValues: [] });
  });

  it('reports the problem that names the entry first: the id, then the status, then the workspace', () => {
    expect(validateSessions([{ ...ok, session_id: 'a b', status: 'online', workspace_id: null }], undefined).invalid).toEqual([
      { session_id: null, reason: 'invalid session_id "a b"' },
    ]);
    expect(validateSessions([{ ...ok, status: 'online', workspace_id: null, updated_at: 1 }], undefined).invalid).toEqual([
      { session_id: 's1', reason: 'unknown status "online"' },
    ]);
    expect(validateSessions([{ ...ok, workspace_id: null, updated_at: 1 }], undefined).invalid).toEqual([
      { session_id: 's1', reason: 'invalid workspace_id null' },
    ]);
  });

  it('keeps every field the worker sends, and entries with the optional ones', () => {
    const full = { ...ok, qr: null, reason: 'CONFLICT', reconnect_attempts: 2, last_seen_alive_at: null, worker_id: 'w-a' };
    expect(validateSessions([full], undefined)).toEqual({ sessions: [full], invalid: [], invalidValues: [] });
  });

  it('reports a bad entry and keeps the good ones around it', () => {
    const snapshot = validateSessions([{ ...ok }, { ...ok, session_id: 's2', status: 'online' }, { ...ok, session_id: 's3' }], undefined);
    expect(snapshot.sessions.map((s) => s.session_id)).toEqual(['s1', 's3']);
    expect(snapshot.invalid).toEqual([{ session_id: 's2', reason: 'unknown status "online"' }]);
  });
});

describe('validateSessions: a phone number the column cannot hold is unknown, the entry is used', () => {
  const reason = 'not a phone number (^(?=.{5,32}$)\\+?\\d{5,32}$): treated as unknown';

  it.each([
    ['80 digits', '9'.repeat(80), `"${'9'.repeat(56)}...`],
    ['a plus and 32 digits (33 characters)', `+${'1'.repeat(32)}`, `"+${'1'.repeat(32)}"`],
    ['four digits', '1234', '"1234"'],
    ['letters', 'call me', '"call me"'],
    ['a number, not a string', 6281180164, '6281180164'],
    ['an object', { e164: '+6281' }, '{"e164":"+6281"}'],
    ['no phone_number at all', undefined, 'missing'],
  ])('keeps an entry with %s as phone_number, phone unknown, and reports the value', (_name, phone, shown) => {
    const snapshot = validateSessions([{ ...ok, phone_number: phone }, { ...ok, session_id: 's2' }], undefined);
    expect(snapshot.sessions).toEqual([
      { ...ok, phone_number: null, reason: null },
      { ...ok, session_id: 's2', reason: null },
    ]);
    expect(snapshot.invalid).toEqual([]);
    expect(snapshot.invalidValues).toEqual([{ session_id: 's1', field: 'phone_number', value: shown, reason }]);
  });

  it.each(['62811801641', '+62811801641', '1'.repeat(32), `+${'1'.repeat(31)}`])('keeps the phone number %j as it is', (phone) => {
    expect(validateSessions([{ ...ok, phone_number: phone }], undefined)).toEqual({
      sessions: [{ ...ok, phone_number: phone, reason: null }],
      invalid: [],
      invalidValues: [],
    });
  });

  it('reports only the entry problem of an entry refused for another field', () => {
    expect(validateSessions([{ ...ok, status: 'online', phone_number: '9'.repeat(80) }], undefined)).toEqual({
      sessions: [],
      invalid: [{ session_id: 's1', reason: 'unknown status "online"' }],
      invalidValues: [],
    });
  });

  it('reports no value of an entry it does not use: another workspace, or an id listed twice', () => {
    const long = '9'.repeat(80);
    expect(validateSessions([{ ...ok, workspace_id: 'w2', phone_number: long }], 'w1').invalidValues).toEqual([]);
    const twice = validateSessions([{ ...ok, phone_number: long }, { ...ok }], undefined);
    expect(twice).toEqual({ sessions: [], invalid: [{ session_id: 's1', reason: 'listed more than once' }], invalidValues: [] });
  });
});
