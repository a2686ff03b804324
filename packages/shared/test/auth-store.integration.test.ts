import { createHash } from 'node:crypto';
import { authInfo, deleteAuth, loadAuth, saveAuth, type AuthSnapshot } from '../src/db/auth-store';
import { acquireLease, releaseLease } from '../src/db/leases';
import { migratedDatabase, someoneWaitsOnALock, type StoreDatabase } from './store';

jest.setTimeout(30_000);

let store: StoreDatabase;

beforeAll(async () => {
  store = await migratedDatabase('wa_auth');
});

afterAll(async () => {
  await store?.close();
});

let n = 0;
const session = () => `a${++n}`;

async function acquire(sessionId: string, workerId: string): Promise<string> {
  const lease = await acquireLease(store.knex, { sessionId, workspaceId: 'ws1', workerId, ttlSeconds: 30 });
  if (!lease.acquired) throw new Error(`the test could not take ${sessionId}'s lease: ${lease.holder} holds it`);
  return lease.token;
}

async function takeOver(sessionId: string, workerId: string): Promise<string> {
  await store.db.query(`UPDATE whatsapp_session_leases SET expires_at = now() - interval '1 second' WHERE session_id = $1`, [sessionId]);
  return acquire(sessionId, workerId);
}

function snapshot(sessionId: string, workerId: string, token: string, text: string): AuthSnapshot {
  const data = Buffer.from(text);
  return { sessionId, workspaceId: 'ws1', workerId, token, data, sha256: createHash('sha256').update(data).digest('hex') };
}

describe('saveAuth and loadAuth', () => {
  it('saves under the current token and loads back the bytes, their hash and size, the token and the saver', async () => {
    const s = session();
    const token = await acquire(s, 'A');
    const bytes = Buffer.from([0, 1, 2, 255, 0x5c, 0x78]); // a NUL, a high byte and `\x`: bytea, not text
    const saved = { ...snapshot(s, 'A', token, ''), data: bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
    expect(await saveAuth(store.knex, saved)).toBe('saved');
    expect(await loadAuth(store.knex, s)).toEqual({
      data: bytes,
      sha256: saved.sha256,
      sizeBytes: 6,
      token,
      savedAt: expect.any(Date),
      savedBy: 'A',
    });
    const info = await authInfo(store.knex, s);
    expect(info).toEqual({ sha256: saved.sha256, sizeBytes: 6, token, savedAt: expect.any(Date) });
    expect(info).not.toHaveProperty('data');
  });

  it('replaces the stored login when the holder saves again', async () => {
    const s = session();
    const token = await acquire(s, 'A');
    await saveAuth(store.knex, snapshot(s, 'A', token, 'first'));
    expect(await saveAuth(store.knex, snapshot(s, 'A', token, 'second'))).toBe('saved');
    expect((await loadAuth(store.knex, s))?.data.toString()).toBe('second');
  });

  it('saves after the lease was released, while its token is still the latest (the final save of a clean stop)', async () => {
    const s = session();
    const token = await acquire(s, 'A');
    await releaseLease(store.knex, s, token);
    expect(await saveAuth(store.knex, snapshot(s, 'A', token, 'after release'))).toBe('saved');
  });

  it('refuses a save under a token that is no longer current, and changes nothing', async () => {
    const s = session();
    const old = await acquire(s, 'A');
    await saveAuth(store.knex, snapshot(s, 'A', old, 'A saved this'));
    const current = await takeOver(s, 'B');
    await saveAuth(store.knex, snapshot(s, 'B', current, 'B saved this'));
    const before = await loadAuth(store.knex, s);
    expect(await saveAuth(store.knex, snapshot(s, 'A', old, 'A, back from a partition'))).toBe('stale_fencing_token');
    expect(await loadAuth(store.knex, s)).toEqual(before);
  });

  it('refuses a save for a session with no lease at all', async () => {
    const s = session();
    expect(await saveAuth(store.knex, snapshot(s, 'A', '1', 'no lease'))).toBe('stale_fencing_token');
    expect(await loadAuth(store.knex, s)).toBeNull();
  });

  it('refuses a save under a token older than the stored login\'s, and changes nothing', async () => {
    const s = session();
    const token = await acquire(s, 'A');
    await saveAuth(store.knex, snapshot(s, 'A', token, 'stored'));
    // Only by hand can the stored token be ahead of the lease's (tokens come from one sequence).
    await store.db.query(`UPDATE whatsapp_session_auth SET fencing_token = fencing_token + 100 WHERE session_id = $1`, [s]);
    const before = await loadAuth(store.knex, s);
    expect(await saveAuth(store.knex, snapshot(s, 'A', token, 'older'))).toBe('stale_fencing_token');
    expect(await loadAuth(store.knex, s)).toEqual(before);
  });

  it('loses to a takeover that commits while the save waits on the lease row', async () => {
    const s = session();
    const old = await acquire(s, 'A');
    // Another worker's takeover, in a transaction of its own that has locked the lease row.
    const takeover = store.db.client;
    await takeover.query('BEGIN');
    try {
      await takeover.query('SELECT 1 FROM whatsapp_session_leases WHERE session_id = $1 FOR UPDATE', [s]);
      const save = saveAuth(store.knex, snapshot(s, 'A', old, 'saved while being taken over'));
      const answeredAtOnce = save.then((result) => `the save answered ${result} without waiting on the lease row`);
      expect(await Promise.race([someoneWaitsOnALock(store.db).then(() => 'waiting'), answeredAtOnce])).toBe('waiting');
      await takeover.query(
        `UPDATE whatsapp_session_leases SET worker_id = 'B', token = nextval('whatsapp_session_lease_token_seq'),
                acquired_at = now(), renewed_at = now(), expires_at = now() + interval '30 seconds'
          WHERE session_id = $1`,
        [s],
      );
      await takeover.query('COMMIT');
      expect(await save).toBe('stale_fencing_token');
    } finally {
      await takeover.query('ROLLBACK'); // nothing to roll back after COMMIT; ends the block if a step failed
    }
    expect(await loadAuth(store.knex, s)).toBeNull();
  });

  it('refuses a snapshot whose size or hash does not describe it (the table\'s checks)', async () => {
    const s = session();
    const token = await acquire(s, 'A');
    await expect(saveAuth(store.knex, { ...snapshot(s, 'A', token, 'x'), sha256: 'not a hash' })).rejects.toThrow(/whatsapp_session_auth_sha256_check/);
    expect(await loadAuth(store.knex, s)).toBeNull();
  });

  it('answers null for a session with nothing stored', async () => {
    expect(await loadAuth(store.knex, 'never-saved')).toBeNull();
    expect(await authInfo(store.knex, 'never-saved')).toBeNull();
  });
});

describe('deleteAuth', () => {
  it('deletes with the current token (a real logout)', async () => {
    const s = session();
    const token = await acquire(s, 'A');
    await saveAuth(store.knex, snapshot(s, 'A', token, 'logged in'));
    expect(await deleteAuth(store.knex, s, token)).toBe('deleted');
    expect(await loadAuth(store.knex, s)).toBeNull();
  });

  it('answers absent when nothing is stored', async () => {
    const s = session();
    const token = await acquire(s, 'A');
    expect(await deleteAuth(store.knex, s, token)).toBe('absent');
  });

  it('refuses with a token that is no longer current, and keeps the login', async () => {
    const s = session();
    const old = await acquire(s, 'A');
    await saveAuth(store.knex, snapshot(s, 'A', old, 'logged in'));
    await takeOver(s, 'B');
    const before = await loadAuth(store.knex, s);
    expect(await deleteAuth(store.knex, s, old)).toBe('stale_fencing_token');
    expect(await loadAuth(store.knex, s)).toEqual(before);
  });

  it('refuses when the stored login was written under a newer token, and keeps it', async () => {
    const s = session();
    const token = await acquire(s, 'A');
    await saveAuth(store.knex, snapshot(s, 'A', token, 'logged in'));
    await store.db.query(`UPDATE whatsapp_session_auth SET fencing_token = fencing_token + 100 WHERE session_id = $1`, [s]);
    expect(await deleteAuth(store.knex, s, token)).toBe('stale_fencing_token');
    expect(await loadAuth(store.knex, s)).not.toBeNull();
  });
});
