import { acquireLease, listLeases, releaseLease, renewLeases } from '../src/db/leases';
import { leaseRow, migratedDatabase, someoneWaitsOnALock, statementsOf, type StoreDatabase } from './store';

jest.setTimeout(30_000);

let store: StoreDatabase;

beforeAll(async () => {
  store = await migratedDatabase('wa_leases');
});

afterAll(async () => {
  await store?.close();
});

/** Each test its own session ids, so no test depends on another's rows. */
let n = 0;
const session = () => `s${++n}`;

const TTL = 30;
const acquire = (sessionId: string, workerId: string, ttlSeconds = TTL) =>
  acquireLease(store.knex, { sessionId, workspaceId: 'ws1', workerId, ttlSeconds });

/** Makes the session's lease lapse now, by the database's clock, without waiting for it. */
async function expire(sessionId: string): Promise<void> {
  await store.db.query(`UPDATE whatsapp_session_leases SET expires_at = now() - interval '1 second' WHERE session_id = $1`, [sessionId]);
}

/** The sessions' lease rows, read one after the other (one client runs one query at a time). */
async function rowsOf(sessionIds: string[]) {
  const rows = [];
  for (const sessionId of sessionIds) rows.push(await leaseRow(store.db, sessionId));
  return rows;
}

describe('acquireLease', () => {
  it('takes a free session, with a token and an expiry from the database\'s clock', async () => {
    const s = session();
    const [{ now }] = await store.db.query<{ now: Date }>('SELECT now()');
    const result = await acquire(s, 'A', 30);
    expect(result).toEqual({ acquired: true, token: expect.stringMatching(/^\d+$/), expiresAt: expect.any(Date) });
    const row = await leaseRow(store.db, s);
    expect(row).toMatchObject({ session_id: s, workspace_id: 'ws1', worker_id: 'A', token: result.token });
    expect(row.expires_at).toEqual(result.expiresAt);
    // 30 s after the database's now() of the statement (which is after the `now` read above).
    expect(result.expiresAt.getTime() - now.getTime()).toBeGreaterThanOrEqual(30_000);
    expect(row.acquired_at.getTime()).toBe(result.expiresAt.getTime() - 30_000);
  });

  it('is refused while another worker holds it, naming the holder, and changes nothing', async () => {
    const s = session();
    const held = await acquire(s, 'A');
    const before = await leaseRow(store.db, s);
    expect(await acquire(s, 'B')).toEqual({ acquired: false, holder: 'A', token: held.token, expiresAt: held.expiresAt });
    expect(await leaseRow(store.db, s)).toEqual(before);
  });

  it('takes over a lapsed lease, with a larger token', async () => {
    const s = session();
    const first = await acquire(s, 'A');
    await expire(s);
    const second = await acquire(s, 'B');
    expect(second.acquired).toBe(true);
    expect(BigInt(second.token)).toBeGreaterThan(BigInt(first.token));
    expect(await leaseRow(store.db, s)).toMatchObject({ worker_id: 'B', token: second.token });
  });

  it('gives the same worker a new, larger token when it acquires again (a new acquisition)', async () => {
    const s = session();
    const first = await acquire(s, 'A');
    const again = await acquire(s, 'A');
    expect(again.acquired).toBe(true);
    expect(BigInt(again.token)).toBeGreaterThan(BigInt(first.token));
  });

  it('never resets the token: released and acquired again, by anyone, it is larger', async () => {
    const s = session();
    const first = await acquire(s, 'A');
    expect(await releaseLease(store.knex, s, first.token)).toBe(true);
    const second = await acquire(s, 'B');
    expect(second.acquired).toBe(true);
    expect(BigInt(second.token)).toBeGreaterThan(BigInt(first.token));
  });

  it('draws tokens from one sequence for every session: no two acquisitions share one', async () => {
    const tokens = [];
    for (const s of [session(), session(), session()]) tokens.push((await acquire(s, 'A')).token);
    expect(new Set(tokens).size).toBe(3);
  });

  it('is one statement', async () => {
    const s = session();
    await acquire(s, 'A');
    const { statements } = await statementsOf(store.knex, () => acquire(s, 'B'));
    expect(statements).toHaveLength(1);
  });

  it('names the holder whose insert committed while it waited (two workers acquiring a new session at once)', async () => {
    const s = session();
    // B's acquisition, inside a transaction kept open: its new row is not committed yet.
    const trx = await store.knex.transaction();
    try {
      // A's statement waits on B's uncommitted row, then conflicts with it: B's row is not in A's
      // snapshot, so this goes through acquireLease's second attempt (A sent two statements when it was written).
      const b = await acquireLease(trx, { sessionId: s, workspaceId: 'ws1', workerId: 'B', ttlSeconds: TTL });
      const attempt = acquire(s, 'A');
      await someoneWaitsOnALock(store.db);
      await trx.commit();
      expect(await attempt).toEqual({ acquired: false, holder: 'B', token: b.token, expiresAt: b.expiresAt });
    } finally {
      if (!trx.isCompleted()) await trx.rollback();
    }
  });

  it('refuses a lease time that is not a positive number, before any statement', async () => {
    for (const ttlSeconds of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const { result, statements } = await statementsOf(store.knex, () => acquire(session(), 'A', ttlSeconds).catch((error: Error) => error));
      expect(statements).toEqual([]);
      expect(result).toBeInstanceOf(RangeError);
      expect((result as Error).message).toMatch(/ttlSeconds must be a positive number of seconds/);
    }
  });
});

describe('renewLeases', () => {
  it('renews, in one statement, only the worker\'s live leases under their current tokens', async () => {
    const [live, stale, lapsed, others, released] = [session(), session(), session(), session(), session()];
    const liveLease = await acquire(live, 'A', 5);
    const staleLease = await acquire(stale, 'A', 5);
    await acquire(stale, 'A', 5); // a newer acquisition: staleLease.token is no longer current
    const lapsedLease = await acquire(lapsed, 'A', 5);
    await expire(lapsed);
    const othersLease = await acquire(others, 'B', 5);
    const releasedLease = await acquire(released, 'A', 5);
    await releaseLease(store.knex, released, releasedLease.token);
    const before = await rowsOf([stale, lapsed, others, released]);

    const { result, statements } = await statementsOf(store.knex, () =>
      renewLeases(
        store.knex,
        'A',
        [
          { sessionId: live, token: liveLease.token },
          { sessionId: stale, token: staleLease.token },
          { sessionId: lapsed, token: lapsedLease.token },
          { sessionId: others, token: othersLease.token },
          { sessionId: released, token: releasedLease.token },
          { sessionId: session(), token: '1' },
        ],
        60,
      ),
    );

    expect(result).toEqual(new Set([live]));
    expect(statements).toHaveLength(1);
    const renewed = await leaseRow(store.db, live);
    expect(renewed.token).toBe(liveLease.token);
    expect(renewed.expires_at.getTime()).toBe(renewed.renewed_at.getTime() + 60_000);
    expect(renewed.expires_at.getTime()).toBeGreaterThan(liveLease.expiresAt.getTime());
    expect(await rowsOf([stale, lapsed, others, released])).toEqual(before);
  });

  it('sends nothing for an empty list', async () => {
    const { result, statements } = await statementsOf(store.knex, () => renewLeases(store.knex, 'A', [], TTL));
    expect(result).toEqual(new Set());
    expect(statements).toEqual([]);
  });
});

describe('releaseLease', () => {
  it('ends the lease now and keeps the row: another worker may take it at once', async () => {
    const s = session();
    const lease = await acquire(s, 'A');
    expect(await releaseLease(store.knex, s, lease.token)).toBe(true);
    const [row] = await store.db.query(`SELECT token::text AS token, expires_at <= now() AS lapsed FROM whatsapp_session_leases WHERE session_id = $1`, [s]);
    expect(row).toEqual({ token: lease.token, lapsed: true });
    expect((await acquire(s, 'B')).acquired).toBe(true);
  });

  it('does nothing with an old token', async () => {
    const s = session();
    const old = await acquire(s, 'A');
    await expire(s);
    await acquire(s, 'B');
    const before = await leaseRow(store.db, s);
    expect(await releaseLease(store.knex, s, old.token)).toBe(false);
    expect(await leaseRow(store.db, s)).toEqual(before);
    expect(await acquire(s, 'A')).toMatchObject({ acquired: false, holder: 'B' });
  });

  it('never moves a lapsed lease\'s expiry later', async () => {
    const s = session();
    const lease = await acquire(s, 'A');
    await expire(s);
    const before = await leaseRow(store.db, s);
    expect(await releaseLease(store.knex, s, lease.token)).toBe(true);
    expect((await leaseRow(store.db, s)).expires_at).toEqual(before.expires_at);
  });
});

describe('listLeases', () => {
  it('lists every lease, or one worker\'s, live or lapsed, by session id', async () => {
    const workers = ['list-A', 'list-B'];
    const [s1, s2, s3] = [session(), session(), session()];
    const l1 = await acquire(s1, workers[0]);
    const l2 = await acquire(s2, workers[0]);
    const l3 = await acquire(s3, workers[1]);
    await expire(s2);
    const mine = await listLeases(store.knex, { workerId: workers[0] });
    expect(mine).toEqual([
      { sessionId: s1, workspaceId: 'ws1', workerId: workers[0], token: l1.token, expiresAt: l1.expiresAt, live: true },
      { sessionId: s2, workspaceId: 'ws1', workerId: workers[0], token: l2.token, expiresAt: expect.any(Date), live: false },
    ]);
    const all = await listLeases(store.knex);
    expect(all.filter((lease) => workers.includes(lease.workerId)).map((lease) => [lease.sessionId, lease.token])).toEqual([
      [s1, l1.token],
      [s2, l2.token],
      [s3, l3.token],
    ]);
    expect(all.map((lease) => lease.sessionId)).toEqual([...all.map((lease) => lease.sessionId)].sort());
  });
});
