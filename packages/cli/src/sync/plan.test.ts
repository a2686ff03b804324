import type { WorkerSession } from '@wa-session-sync/shared';
import type { Account, PlanOptions, WorkerSnapshot } from './model';
import { nextAttemptAt, NOT_FOUND_REASON, plan, Planner, settle } from './plan';

const NOW = new Date('2026-01-10T12:00:00.000Z');
const EARLIER = '2026-01-10T11:00:00.000Z';
const MANUAL = { autoReconnect: false, backoff: { baseMinutes: 5, maxAttempts: 3 } } satisfies PlanOptions;
const AUTO = { ...MANUAL, autoReconnect: true } satisfies PlanOptions;

function account(overrides: Partial<Account> = {}): Account {
  return {
    id: '1',
    session_id: 's1',
    workspace_id: 'w1',
    phone_number: '62811801641',
    status: 'connected',
    metadata: {},
    updated_at: EARLIER,
    version: '100',
    ...overrides,
  };
}

function session(overrides: Partial<WorkerSession> = {}): WorkerSession {
  return {
    session_id: 's1',
    workspace_id: 'w1',
    status: 'connected',
    phone_number: '62811801641',
    updated_at: EARLIER,
    ...overrides,
  };
}

function worker(...sessions: WorkerSession[]): WorkerSnapshot {
  return { sessions, invalid: [], invalidValues: [] };
}

/** A row whose current status the sync itself wrote (its stamp equals `updated_at`). */
function syncWritten(status: Account['status'], metadata: Record<string, unknown> = {}): Account {
  return account({ status, updated_at: EARLIER, metadata: { sync_written_at: EARLIER, sync_revive: true, ...metadata } });
}

describe('plan: database connected, worker lacks the session', () => {
  it('marks the row disconnected with the seed metadata when auto-reconnect is off', () => {
    const result = plan([account()], worker(), MANUAL, NOW);
    expect(result.changes).toEqual([
      {
        account: account(),
        worker_status: null,
        action: 'update_status',
        write: {
          status: 'disconnected',
          phone_number: null,
          patch: {
            auto_disconnected_at: '2026-01-10T12:00:00.000Z',
            reason: NOT_FOUND_REASON,
            sync_written_at: '2026-01-10T12:00:00.000Z',
            sync_revive: true,
          },
        },
      },
    ]);
  });

  it('plans a start request with auto-reconnect, falling back to disconnected', () => {
    const [change] = plan([account()], worker(), AUTO, NOW).changes;
    expect(change.action).toBe('start');
    expect(change.write?.status).toBe('disconnected');
    expect(change.write?.patch).toMatchObject({ auto_disconnected_at: NOW.toISOString(), reason: NOT_FOUND_REASON });
  });

  it('stores the status the worker reports after a start, never connected on paper', () => {
    const [change] = plan([account()], worker(), AUTO, NOW).changes;
    const written = settle(change, { ok: true, status: null }, AUTO.backoff, NOW);
    expect(written.status).toBe('initializing');
    expect(written.patch).toMatchObject({
      auto_disconnected_at: NOW.toISOString(),
      reason: NOT_FOUND_REASON,
      auto_reconnect_at: NOW.toISOString(),
      reconnect_triggered_by: 'sync_command',
      reconnect_attempts: 1,
      next_reconnect_at: '2026-01-10T12:05:00.000Z',
      last_reconnect_error: null,
    });
    expect(settle(change, { ok: true, status: 'qr_scanning' }, AUTO.backoff, NOW).status).toBe('qr_scanning');
  });

  it('keeps the row disconnected and records the error when the start request fails', () => {
    const [change] = plan([account()], worker(), AUTO, NOW).changes;
    const written = settle(change, { ok: false, error: 'HTTP 500' }, AUTO.backoff, NOW);
    expect(written.status).toBe('disconnected');
    expect(written.patch).toMatchObject({ reconnect_attempts: 1, last_reconnect_error: 'HTTP 500' });
  });
});

describe('plan: database connected, worker reports it not connected', () => {
  it('takes the worker status without auto-reconnect', () => {
    const [change] = plan([account()], worker(session({ status: 'failed' })), MANUAL, NOW).changes;
    expect(change).toMatchObject({ action: 'update_status', worker_status: 'failed' });
    expect(change.write).toMatchObject({
      status: 'failed',
      patch: { auto_disconnected_at: NOW.toISOString(), reason: 'Node.js session failed during sync' },
    });
  });

  it('takes a live non-connected status without reconnecting it', () => {
    const [change] = plan([account()], worker(session({ status: 'qr_scanning' })), AUTO, NOW).changes;
    expect(change).toMatchObject({ action: 'update_status', write: { status: 'qr_scanning' } });
  });

  it.each(['disconnected', 'failed'] as const)('reconnects a %s session with auto-reconnect', (status) => {
    const [change] = plan([account()], worker(session({ status })), AUTO, NOW).changes;
    expect(change).toMatchObject({ action: 'reconnect', write: { status } });
    expect(settle(change, { ok: true, status: null }, AUTO.backoff, NOW).status).toBe('reconnecting');
  });

  it('does not reconnect a session the person logged out from the phone', () => {
    const [change] = plan([account()], worker(session({ status: 'disconnected', reason: 'LOGOUT' })), AUTO, NOW).changes;
    expect(change).toMatchObject({ action: 'update_status', write: { status: 'disconnected', patch: { sync_revive: false } } });
  });
});

describe('plan: sessions only a person can bring back (LOGOUT, QR_TIMEOUT)', () => {
  it('does not reconnect a session whose QR nobody scanned in time, and corrects its status', () => {
    const [change] = plan([account()], worker(session({ status: 'disconnected', reason: 'QR_TIMEOUT' })), AUTO, NOW).changes;
    expect(change).toEqual({
      account: account(),
      worker_status: 'disconnected',
      action: 'update_status',
      write: {
        status: 'disconnected',
        phone_number: '62811801641',
        patch: {
          sync_written_at: '2026-01-10T12:00:00.000Z',
          sync_revive: false,
          auto_disconnected_at: '2026-01-10T12:00:00.000Z',
          reason: 'Node.js session disconnected during sync',
        },
      },
    });
  });

  it('does not reconnect a QR_TIMEOUT session the sync itself had started', () => {
    const row = syncWritten('qr_scanning', { reconnect_attempts: 1 });
    const [change] = plan([row], worker(session({ status: 'disconnected', reason: 'QR_TIMEOUT' })), AUTO, NOW).changes;
    expect(change).toMatchObject({ action: 'update_status', write: { status: 'disconnected', patch: { sync_revive: false } } });
  });

  it.each(['LOGOUT', 'QR_TIMEOUT'])('unmarks a row the sync meant to revive when the worker reports %s, status unchanged', (reason) => {
    const row = syncWritten('disconnected');
    const [change] = plan([row], worker(session({ status: 'disconnected', reason })), AUTO, NOW).changes;
    expect(change).toEqual({
      account: row,
      worker_status: 'disconnected',
      action: 'update_status',
      write: { status: 'disconnected', phone_number: '62811801641', patch: { sync_written_at: '2026-01-10T12:00:00.000Z', sync_revive: false } },
    });
    // Once unmarked, nothing revives it: not the same report, not the session gone from the worker.
    const unmarked = account({ status: 'disconnected', updated_at: NOW.toISOString(), metadata: { sync_written_at: NOW.toISOString(), sync_revive: false } });
    expect(plan([unmarked], worker(session({ status: 'disconnected', reason })), AUTO, NOW).changes).toEqual([]);
    expect(plan([unmarked], worker(), AUTO, NOW).changes).toEqual([]);
  });

  it('still reconnects a dead session for any other reason', () => {
    for (const reason of ['PROBE_TIMEOUT', 'BROWSER_GONE', 'CONFLICT', null]) {
      const [change] = plan([account()], worker(session({ status: 'disconnected', reason })), AUTO, NOW).changes;
      expect(change.action).toBe('reconnect');
    }
  });

  it('leaves alone a row no run meant to revive when the worker reports QR_TIMEOUT with the same status', () => {
    const row = account({ status: 'disconnected' });
    expect(plan([row], worker(session({ status: 'disconnected', reason: 'QR_TIMEOUT' })), AUTO, NOW).changes).toEqual([]);
  });
});

describe('plan: worker connected, database not', () => {
  it('makes the row connected, learns the phone and resets the reconnect bookkeeping', () => {
    const row = account({ status: 'disconnected', phone_number: null, metadata: { reconnect_attempts: 2 } });
    const [change] = plan([row], worker(session({ phone_number: '6281' })), MANUAL, NOW).changes;
    expect(change).toMatchObject({
      action: 'update_status',
      worker_status: 'connected',
      write: {
        status: 'connected',
        phone_number: '6281',
        patch: { reconnect_attempts: 0, next_reconnect_at: null, reconnect_given_up_at: null, sync_revive: true },
      },
    });
  });
});

describe('plan: nothing to do', () => {
  it('leaves agreeing rows alone', () => {
    const rows = [account(), account({ id: '2', session_id: 's2', status: 'qr_scanning' })];
    const result = plan(rows, worker(session(), session({ session_id: 's2', status: 'qr_scanning' })), AUTO, NOW);
    expect(result.changes).toEqual([]);
    expect(result.accountsChecked).toBe(2);
  });

  it('leaves a disconnected row alone when the worker lacks it and nothing asks to revive it', () => {
    expect(plan([account({ status: 'disconnected' })], worker(), MANUAL, NOW).changes).toEqual([]);
  });
});

describe('plan: person-disconnected versus sync-disconnected', () => {
  it('never revives a row a person disconnected (no sync stamp)', () => {
    const row = account({ status: 'disconnected', metadata: { reason: 'user clicked disconnect' } });
    expect(plan([row], worker(), AUTO, NOW).changes).toEqual([]);
    expect(plan([row], worker(session({ status: 'disconnected' })), AUTO, NOW).changes).toEqual([]);
  });

  it('never revives a row a person changed after the sync wrote it (updated_at moved on)', () => {
    const row = account({
      status: 'disconnected',
      updated_at: '2026-01-10T11:30:00.000Z',
      metadata: { sync_written_at: EARLIER, sync_revive: true },
    });
    expect(plan([row], worker(), AUTO, NOW).changes).toEqual([]);
  });

  it('revives a row the sync took down, on a later run with auto-reconnect', () => {
    const [change] = plan([syncWritten('disconnected')], worker(), AUTO, NOW).changes;
    expect(change).toMatchObject({ action: 'start', worker_status: null });
  });

  it('mirrors the worker on a person-disconnected row without making it revivable', () => {
    const row = account({ status: 'disconnected' });
    const [change] = plan([row], worker(session({ status: 'failed' })), AUTO, NOW).changes;
    expect(change).toMatchObject({ action: 'update_status', write: { status: 'failed', patch: { sync_revive: false } } });
  });
});

describe('plan: reconnect back-off across runs', () => {
  it('waits while next_reconnect_at is in the future and writes nothing', () => {
    const row = syncWritten('disconnected', { reconnect_attempts: 1, next_reconnect_at: '2026-01-10T12:04:00.000Z' });
    const [change] = plan([row], worker(), AUTO, NOW).changes;
    expect(change).toEqual({ account: row, worker_status: null, action: 'backed_off', write: null });
  });

  it('tries again once the window has passed and doubles the next wait', () => {
    const row = syncWritten('disconnected', { reconnect_attempts: 2, next_reconnect_at: '2026-01-10T11:59:00.000Z' });
    const [change] = plan([row], worker(), AUTO, NOW).changes;
    expect(change.action).toBe('start');
    const written = settle(change, { ok: false, error: 'HTTP 503' }, AUTO.backoff, NOW);
    expect(written.patch).toMatchObject({ reconnect_attempts: 3, next_reconnect_at: '2026-01-10T12:20:00.000Z' });
  });

  it('gives up at the cap, marks it once, then leaves it alone', () => {
    const row = syncWritten('failed', { reconnect_attempts: 3, next_reconnect_at: EARLIER });
    const [first] = plan([row], worker(session({ status: 'failed' })), AUTO, NOW).changes;
    expect(first).toMatchObject({ action: 'given_up', write: { status: 'failed', patch: { reconnect_given_up_at: NOW.toISOString() } } });

    const marked = syncWritten('failed', { reconnect_attempts: 3, reconnect_given_up_at: EARLIER });
    const [again] = plan([marked], worker(session({ status: 'failed' })), AUTO, NOW).changes;
    expect(again).toMatchObject({ action: 'given_up', write: null });
  });

  it('clamps the wait at a day at every attempt count: 35 attempts of 50 is no invalid date', () => {
    const patient = { baseMinutes: 5, maxAttempts: 50 };
    const row = syncWritten('disconnected', { reconnect_attempts: 35, next_reconnect_at: EARLIER });
    const [change] = plan([row], worker(), { autoReconnect: true, backoff: patient }, NOW).changes;
    expect(change.action).toBe('start');
    expect(settle(change, { ok: false, error: 'HTTP 503' }, patient, NOW).patch).toMatchObject({
      reconnect_attempts: 36,
      next_reconnect_at: '2026-01-11T12:00:00.000Z',
    });
    for (const attempts of [1, 10, 30, 31, 32, 100, 2 ** 31, Number.MAX_SAFE_INTEGER]) {
      expect(() => nextAttemptAt(attempts, patient, NOW)).not.toThrow();
    }
    expect(nextAttemptAt(9, patient, NOW)).toBe('2026-01-11T09:20:00.000Z');
  });

  it('starts counting afresh when the database shows the session connected again', () => {
    const row = account({ metadata: { reconnect_attempts: 3, reconnect_given_up_at: EARLIER, next_reconnect_at: '2026-02-01T00:00:00.000Z' } });
    const [change] = plan([row], worker(), AUTO, NOW).changes;
    expect(change.action).toBe('start');
    expect(settle(change, { ok: true, status: null }, AUTO.backoff, NOW).patch).toMatchObject({ reconnect_attempts: 1 });
  });
});

describe('plan: more fixtures per rule', () => {
  it.each(['initializing', 'authenticated', 'reconnecting'] as const)('mirrors a live %s worker status on a connected row', (status) => {
    const [change] = plan([account()], worker(session({ status })), MANUAL, NOW).changes;
    expect(change).toMatchObject({ action: 'update_status', worker_status: status, write: { status } });
    expect(change.write?.patch).not.toHaveProperty('auto_disconnected_at');
  });

  it('leaves a row alone when both sides say connected, even without a phone number in the row', () => {
    expect(plan([account({ phone_number: null })], worker(session()), AUTO, NOW).changes).toEqual([]);
  });

  it('reconnects a row the sync marked dead when the worker still holds it dead', () => {
    const [change] = plan([syncWritten('failed')], worker(session({ status: 'failed' })), AUTO, NOW).changes;
    expect(change).toMatchObject({ action: 'reconnect', worker_status: 'failed' });
  });

  it('tells the truth while backing off: a started session the worker lost again becomes disconnected', () => {
    const row = syncWritten('initializing', { reconnect_attempts: 1, next_reconnect_at: '2026-01-10T12:04:00.000Z' });
    const [change] = plan([row], worker(), AUTO, NOW).changes;
    expect(change).toMatchObject({
      action: 'backed_off',
      write: { status: 'disconnected', patch: { auto_disconnected_at: NOW.toISOString(), reason: NOT_FOUND_REASON } },
    });
  });

  it('writes the observed status of a given-up session when it changes, without marking it again', () => {
    const row = syncWritten('failed', { reconnect_attempts: 3, reconnect_given_up_at: EARLIER });
    const [change] = plan([row], worker(session({ status: 'disconnected' })), AUTO, NOW).changes;
    expect(change).toMatchObject({ action: 'given_up', write: { status: 'disconnected' } });
    expect(change.write?.patch).not.toHaveProperty('reconnect_given_up_at');
  });

  it('stamps every write so a later run can tell its own writes from a person\'s', () => {
    const [change] = plan([account()], worker(session({ status: 'failed' })), MANUAL, NOW).changes;
    expect(change.write?.patch).toMatchObject({ sync_written_at: NOW.toISOString(), sync_revive: true });
  });

  it('plans nothing for inactive work: an empty database and an empty worker', () => {
    expect(plan([], worker(), AUTO, NOW)).toEqual({
      changes: [],
      unknownWorkerSessions: [],
      invalidWorkerSessions: [],
      invalidAccounts: [],
      invalidWorkerValues: [],
      accountsChecked: 0,
    });
  });
});

describe('plan: what the worker runs that the database does not know, and garbage', () => {
  it('reports unknown worker sessions and plans nothing for them', () => {
    const result = plan([account()], worker(session(), session({ session_id: 'stranger' })), AUTO, NOW);
    expect(result.changes).toEqual([]);
    expect(result.unknownWorkerSessions.map((s) => s.session_id)).toEqual(['stranger']);
  });

  it('never writes an account whose worker entry was garbage', () => {
    const snapshot: WorkerSnapshot = { sessions: [], invalid: [{ session_id: 's1', reason: 'unknown status "online"' }], invalidValues: [] };
    const result = plan([account()], snapshot, AUTO, NOW);
    expect(result.changes).toEqual([]);
    expect(result.invalidWorkerSessions).toEqual(snapshot.invalid);
  });

  it('uses an entry whose phone number was unknown, and passes the reported value on', () => {
    const invalidValues = [{ session_id: 's1', field: 'phone_number' as const, value: `"${'9'.repeat(57)}...`, reason: 'not a phone number' }];
    const row = account({ status: 'disconnected' });
    const result = plan([row], { sessions: [session({ phone_number: null })], invalid: [], invalidValues }, MANUAL, NOW);
    expect(result.invalidWorkerValues).toEqual(invalidValues);
    expect(result.changes).toEqual([
      expect.objectContaining({ action: 'update_status', write: expect.objectContaining({ status: 'connected', phone_number: null }) }),
    ]);
  });
});

describe('plan: rows the sync cannot use are reported and skipped, never the run', () => {
  it('reports a row whose ids are off the contract pattern (older than the CHECK) and sends nothing for it', () => {
    const rows = [
      account({ id: '1', session_id: 'evil\u001b]0;owned\u0007' }),
      account({ id: '2', session_id: 'fine', workspace_id: 'w 1' }),
      account({ id: '3', session_id: 'gone' }),
    ];
    const result = plan(rows, worker(), AUTO, NOW);
    expect(result.invalidAccounts).toEqual([
      { session_id: 'evil\u001b]0;owned\u0007', workspace_id: 'w1', reason: 'session_id does not match ^[A-Za-z0-9_-]{1,100}$' },
      { session_id: 'fine', workspace_id: 'w 1', reason: 'workspace_id does not match ^[A-Za-z0-9_-]{1,100}$' },
    ]);
    expect(result.changes.map((c) => `${c.account.session_id}:${c.action}`)).toEqual(['gone:start']);
    expect(result.accountsChecked).toBe(3);
  });

  it('reports a row whose plan throws and plans the others', () => {
    const broken = account({ id: '1', session_id: 'broken', status: 'disconnected' });
    Object.defineProperty(broken.metadata, 'sync_written_at', {
      get() {
        throw new RangeError('Invalid time value');
      },
    });
    const result = plan([broken, account({ id: '2', session_id: 'gone' })], worker(), AUTO, NOW);
    expect(result.invalidAccounts).toEqual([{ session_id: 'broken', workspace_id: 'w1', reason: 'cannot be planned: Invalid time value' }]);
    expect(result.changes.map((c) => c.account.session_id)).toEqual(['gone']);
  });
});

describe('Planner: the plan page by page', () => {
  const rows = [
    account({ id: '1', session_id: 'gone' }),
    account({ id: '2', session_id: 'agrees' }),
    account({ id: '3', session_id: 'dead' }),
    account({ id: '4', session_id: 'back', status: 'disconnected' }),
    account({ id: '5', session_id: 'garbled' }),
  ];
  const snapshot: WorkerSnapshot = {
    sessions: [
      session({ session_id: 'agrees' }),
      session({ session_id: 'stranger' }),
      session({ session_id: 'dead', status: 'failed' }),
      session({ session_id: 'back' }),
    ],
    invalid: [{ session_id: 'garbled', reason: 'unknown status "online"' }],
    invalidValues: [],
  };

  it('gives what plan gives for all the rows at once, however they are paged', () => {
    const whole = plan(rows, snapshot, AUTO, NOW);
    for (const sizes of [[5], [1, 1, 1, 1, 1], [2, 3], [0, 4, 1]]) {
      const planner = new Planner(snapshot, AUTO, NOW);
      let start = 0;
      for (const size of sizes) {
        planner.add(rows.slice(start, start + size));
        start += size;
      }
      expect(planner.finish()).toEqual(whole);
    }
    expect(whole.changes.map((c) => `${c.account.session_id}:${c.action}`)).toEqual(['gone:start', 'dead:reconnect', 'back:update_status']);
    expect(whole.unknownWorkerSessions.map((s) => s.session_id)).toEqual(['stranger']);
    expect(whole.accountsChecked).toBe(5);
  });

  it('plans the same with the index the reader built as with its own', () => {
    const index = new Map(snapshot.sessions.map((s, i) => [s.session_id, i]));
    expect(plan(rows, { ...snapshot, index }, AUTO, NOW)).toEqual(plan(rows, snapshot, AUTO, NOW));
  });

  it('takes the index a snapshot carries as it is, without building another', () => {
    // An index that sends 'dead' to the place of 'agrees' (a wrong one, on purpose): the plan
    // follows it, so the planner did read it.
    const index = new Map(snapshot.sessions.map((s, i) => [s.session_id, i]));
    index.set('dead', 0);
    const changes = plan(rows, { ...snapshot, index }, AUTO, NOW).changes.map((c) => `${c.account.session_id}:${c.action}`);
    expect(changes).toEqual(['gone:start', 'back:update_status']);
  });

  it('leaves alone a second row with a session an earlier row had (the id moved between two pages)', () => {
    const planner = new Planner(worker(session({ session_id: 's1', status: 'failed' })), MANUAL, NOW);
    planner.add([account({ id: '1' })]);
    planner.add([account({ id: '9' })]);
    expect(planner.finish().changes.map((c) => c.account.id)).toEqual(['1']);
  });
});

describe('plan: a new account in a fleet (startNew)', () => {
  const FLEET = { ...AUTO, startNew: true } satisfies PlanOptions;
  const fresh = () => account({ status: 'disconnected', phone_number: null, metadata: {} });

  it('starts an account nobody has run yet (disconnected, never written by the sync)', () => {
    const result = plan([fresh()], worker(), FLEET, NOW);
    expect(result.changes).toHaveLength(1);
    expect(result.changes[0]).toMatchObject({ action: 'start' });
  });

  it('does not with one worker: the application starts its new sessions itself', () => {
    expect(plan([fresh()], worker(), AUTO, NOW).changes).toEqual([]);
  });

  it('does not without auto-reconnect', () => {
    expect(plan([fresh()], worker(), { ...FLEET, autoReconnect: false }, NOW).changes).toEqual([]);
  });

  it('does not start again an account the sync has written since (a QR nobody scanned, a logout)', () => {
    const stopped = syncWritten('disconnected', { sync_revive: false, reason: 'QR_TIMEOUT' });
    expect(plan([stopped], worker(), FLEET, NOW).changes).toEqual([]);
  });
});
