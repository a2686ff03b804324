import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrateToLatest } from '@wa-session-sync/shared/dist/db/migrations';
import { createTestDatabase, tempDir, waitFor, type TestDatabase } from '@wa-session-sync/test-support';
import { SessionLeasedElsewhereError } from '../src/errors';
import { closeLogger, createLogger, type Logger } from '../src/log';
import { PortableAuth } from '../src/portable/portable-auth';
import type { AuthTarget } from '../src/sessions/session-auth';

// PortableAuth over a real Postgres and real folders, without a browser: who may run a session,
// when a login is saved and restored, and what a worker whose lease was taken over can still do
// (nothing). The whole flow with Chromium is portable.integration.test.ts.

jest.setTimeout(30_000);

const LEVELDB = 'session/Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb';

let db: TestDatabase;
let knex: Knex;
let dir: string;
let logger: Logger;
const made: PortableAuth[] = [];

beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'wa_portable_auth' });
  knex = knexFactory({ client: 'pg', connection: db.url, pool: { min: 0, max: 4 } });
  await migrateToLatest(knex);
  dir = await tempDir('wa-portable-auth-');
  logger = createLogger({ logDir: path.join(dir, 'logs'), level: 'debug' });
});

afterAll(async () => {
  await knex.destroy();
  await db.drop();
  await closeLogger(logger);
  await fs.rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const auth of made.splice(0)) await auth.close();
});

function portable(workerId: string, lost: string[] = [], options: { snapshotMaxBytes?: number; alerts?: string[]; observed?: string[] } = {}): PortableAuth {
  const auth = new PortableAuth({
    knex,
    workerId,
    leaseTtlMs: 30_000,
    snapshotMaxBytes: options.snapshotMaxBytes ?? 1024 * 1024,
    snapshotIntervalMs: 60_000,
    settleMs: 50,
    logger,
    onLeaseLost: (sessionId) => lost.push(sessionId),
    wantsLease: () => true,
    alert: (target, kind, reason) => options.alerts?.push(`${target.sessionId} ${kind} ${reason}`),
    observe: { leaseLost: (why) => options.observed?.push(`lease ${why}`), authSave: (outcome) => options.observed?.push(`save ${outcome}`) },
  });
  made.push(auth);
  return auth;
}

/** A session folder whose profile holds a WhatsApp login made of `content`. */
async function folderWithLogin(name: string, content: string): Promise<AuthTarget> {
  const folder = path.join(dir, name, 'w1', 's1');
  await fs.mkdir(path.join(folder, LEVELDB), { recursive: true });
  await fs.writeFile(path.join(folder, LEVELDB, '000003.log'), content);
  return { workspaceId: 'w1', sessionId: 's1', folder };
}

const saved = async () =>
  (await db.query<{ saved_by: string; fencing_token: string }>(`select saved_by, fencing_token::text from whatsapp_session_auth where session_id = 's1'`))[0];
const lease = async () =>
  (await db.query<{ worker_id: string; token: string; live: boolean }>(`select worker_id, token::text, expires_at > now() as live from whatsapp_session_leases where session_id = 's1'`))[0];

describe('PortableAuth over Postgres', () => {
  it('moves a login between two workers under their leases, and fences the one that lost it', async () => {
    const lostOnA: string[] = [];
    const observedOnA: string[] = [];
    const a = portable('worker-a', lostOnA, { observed: observedOnA });
    const b = portable('worker-b');
    const onA = await folderWithLogin('a', 'the login as paired on A');

    // A claims it; a second claim of its own takes no new token.
    expect(await a.claim(onA)).toEqual({ fresh: true });
    const first = (await lease())!;
    expect(await a.claim(onA)).toEqual({ fresh: false });
    expect((await lease())!.token).toBe(first.token);

    // B is refused, naming A.
    const onB = { ...onA, folder: path.join(dir, 'b', 'w1', 's1') };
    await expect(b.claim(onB)).rejects.toThrow(SessionLeasedElsewhereError);
    await expect(b.claim(onB)).rejects.toMatchObject({ holder: 'worker-a', statusCode: 409 });

    // Launched and connected on A: saved once the profile settled.
    await a.beforeLaunch(onA);
    a.ready(onA);
    await waitFor(async () => (await saved())?.saved_by === 'worker-a', 'the login saved by A');
    expect((await saved())!.fencing_token).toBe(first.token);

    // A's lease lapses (A hung, or cut off), and B, with no profile at all, takes the session
    // over: it restores A's login before its launch, under a larger token.
    await db.query(`update whatsapp_session_leases set expires_at = now() - interval '1 second'`);
    await b.beforeLaunch(onB);
    expect(await fs.readFile(path.join(onB.folder, LEVELDB, '000003.log'), 'utf8')).toBe('the login as paired on A');
    const second = (await lease())!;
    expect(second).toMatchObject({ worker_id: 'worker-b', live: true });
    expect(BigInt(second.token)).toBeGreaterThan(BigInt(first.token));

    // A still believes it holds the session: its next save is refused (stale_fencing_token), the
    // saved login stays as it was, and A is told to stop the session.
    await fs.writeFile(path.join(onA.folder, LEVELDB, '000003.log'), 'what a stale A would write');
    a.ready(onA);
    await waitFor(() => lostOnA.includes('s1'), 'A told its lease is lost');
    expect(observedOnA).toEqual(['save saved', 'save stale_fencing_token', 'lease stale_fencing_token']);
    expect(await saved()).toEqual({ saved_by: 'worker-a', fencing_token: first.token });
    // And it has forgotten the lease: a relaunch's claim asks the database, which names B.
    await expect(a.claim(onA)).rejects.toMatchObject({ holder: 'worker-b' });
    expect((await lease())!.worker_id).toBe('worker-b');

    // B saves under its own token.
    await fs.writeFile(path.join(onB.folder, LEVELDB, '000003.log'), 'the login as B runs it');
    b.ready(onB);
    await waitFor(async () => (await saved())?.saved_by === 'worker-b', 'the login saved by B');
    expect((await saved())!.fencing_token).toBe(second.token);
    // B stops: a last save, then its lease let go.
    await b.ended(onB, 'stopped');
    expect((await lease())!.live).toBe(false);
  });

  it('a restore keeps a profile that is already the saved login, and replaces one that is not', async () => {
    const a = portable('worker-a');
    const target = await folderWithLogin('c', 'newer than anything saved');
    await db.query(`delete from whatsapp_session_auth`);
    await db.query(`update whatsapp_session_leases set expires_at = now() - interval '1 second'`);
    await a.beforeLaunch(target);
    a.ready(target);
    await waitFor(async () => (await saved())?.saved_by === 'worker-a', 'the login saved');
    // The profile moves on after the save (WhatsApp Web writes as it runs): it is kept at the next launch.
    await fs.writeFile(path.join(target.folder, LEVELDB, '000003.log'), 'moved on since the save');
    await a.beforeLaunch(target);
    expect(await fs.readFile(path.join(target.folder, LEVELDB, '000003.log'), 'utf8')).toBe('moved on since the save');
    // Another worker saved a newer login meanwhile: the next launch here restores it.
    await fs.writeFile(path.join(target.folder, '.wa-auth.json'), JSON.stringify({ sha256: '0'.repeat(64) }));
    await a.beforeLaunch(target);
    expect(await fs.readFile(path.join(target.folder, LEVELDB, '000003.log'), 'utf8')).toBe('newer than anything saved');
  });

  it('a logout deletes the saved login under the current lease and lets the lease go', async () => {
    const a = portable('worker-a');
    const target = await folderWithLogin('d', 'to be logged out');
    await db.query(`update whatsapp_session_leases set expires_at = now() - interval '1 second'`);
    await a.beforeLaunch(target);
    a.ready(target);
    await waitFor(async () => (await saved())?.saved_by === 'worker-a', 'the login saved');
    await a.ended(target, 'logged_out');
    expect(await saved()).toBeUndefined();
    expect((await lease())!.live).toBe(false);
  });

  it('a login over WHATSAPP_AUTH_SNAPSHOT_MAX_MB is refused, never cut: nothing saved, one alert, a log line', async () => {
    const alerts: string[] = [];
    const a = portable('worker-a', [], { snapshotMaxBytes: 64, alerts });
    const target = await folderWithLogin('e', 'x'.repeat(64) + randomBytes(4096).toString('hex'));
    await db.query(`delete from whatsapp_session_auth`);
    await db.query(`update whatsapp_session_leases set expires_at = now() - interval '1 second'`);
    await a.beforeLaunch(target);
    a.ready(target);
    await waitFor(() => alerts.length > 0, 'the alert');
    expect(alerts).toEqual([expect.stringMatching(/^s1 auth_snapshot_too_large \d+ bytes over 64$/)]);
    expect(await saved()).toBeUndefined();
    await a.ended(target, 'stopped');
    expect(alerts).toHaveLength(1);
    expect(await saved()).toBeUndefined();
    await closeLogger(logger);
    expect(await fs.readFile(path.join(dir, 'logs', 'whatsapp-service.log'), 'utf8')).toContain('Login too large to save (WHATSAPP_AUTH_SNAPSHOT_MAX_MB)');
    logger = createLogger({ logDir: path.join(dir, 'logs'), level: 'debug' });
  });

  it('never saves a profile it did not launch on: a session claimed by a restore, then stopped before its turn', async () => {
    const a = portable('worker-a');
    const fresh = await folderWithLogin('f', 'the newest login, as saved');
    await db.query(`update whatsapp_session_leases set expires_at = now() - interval '1 second'`);
    await a.beforeLaunch(fresh);
    a.ready(fresh);
    await waitFor(async () => (await saved())?.saved_by === 'worker-a', 'the newest login saved');
    await a.ended(fresh, 'stopped');
    const newest = (await saved())!;

    // Worker C's folder holds an older login of the same session (it ran it long ago).
    const c = portable('worker-c');
    const old = await folderWithLogin('g', 'an older login left on C');
    await c.claim(old);
    await c.ended(old, 'stopped');
    expect(await saved()).toEqual(newest);
  });
});
