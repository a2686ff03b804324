import path from 'node:path';
import { REASONS } from '@wa-session-sync/shared';
import { LeaseStoreUnavailableError, SessionLeasedElsewhereError } from '../src/errors';
import { writeManifest } from '../src/sessions/manifest';
import { prepareRestore } from '../src/sessions/restore';
import type { AuthEnd, AuthTarget, SessionAuth } from '../src/sessions/session-auth';
import { waitFor } from './helpers';
import { apiHarness, type ApiHarness } from './session-harness';

// The sessions' side of WHATSAPP_AUTH_STORE=postgres, over the fake driver and through HTTP: when
// the lease is asked for, what a refusal does, and when the login is saved, deleted and let go.
// The Postgres side is proven by portable.integration.test.ts with real workers.

jest.setTimeout(20_000);

/** A store the test decides for: who holds which session, and a record of every call. */
class ScriptedAuth implements SessionAuth {
  readonly kind = 'postgres' as const;
  readonly calls: string[] = [];
  /** session -> the other worker holding it */
  readonly elsewhere = new Map<string, string>();
  unavailable = false;
  private readonly held = new Set<string>();

  async claim(target: AuthTarget) {
    this.calls.push(`claim ${target.sessionId}`);
    if (this.unavailable) throw new LeaseStoreUnavailableError(target.sessionId, 'timed out');
    const holder = this.elsewhere.get(target.sessionId);
    if (holder) throw new SessionLeasedElsewhereError(target.sessionId, holder, new Date('2026-12-06T12:00:00Z'));
    const fresh = !this.held.has(target.sessionId);
    this.held.add(target.sessionId);
    return { fresh };
  }
  async beforeLaunch(target: AuthTarget) {
    this.calls.push(`beforeLaunch ${target.sessionId}`);
    await this.claim(target);
  }
  browserStarted(target: AuthTarget, pid: number) {
    this.calls.push(`browserStarted ${target.sessionId} ${pid}`);
  }
  browserClosed(target: AuthTarget, pid: number) {
    this.calls.push(`browserClosed ${target.sessionId} ${pid}`);
  }
  ready(target: AuthTarget) {
    this.calls.push(`ready ${target.sessionId}`);
  }
  paused(target: AuthTarget) {
    this.calls.push(`paused ${target.sessionId}`);
  }
  loggedOutByPhone(target: AuthTarget) {
    this.calls.push(`loggedOutByPhone ${target.sessionId}`);
  }
  async ended(target: AuthTarget, how: AuthEnd) {
    this.calls.push(`ended ${target.sessionId} ${how}`);
    this.held.delete(target.sessionId);
  }
  async close() {
    this.calls.push('close');
  }
}

let h: ApiHarness;
let auth: ScriptedAuth;
beforeEach(async () => {
  auth = new ScriptedAuth();
  h = await apiHarness({ auth });
});
afterEach(async () => {
  await h?.close();
});

describe('a start under leases', () => {
  it('answers 409 session_leased_elsewhere naming the holder, and registers and launches nothing', async () => {
    auth.elsewhere.set('s1', 'worker-b');
    const answer = await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    expect(answer.status).toBe(409);
    expect(answer.json.error).toEqual({
      code: 'session_leased_elsewhere',
      holder: 'worker-b',
      message: expect.stringContaining('runs on worker worker-b'),
    });
    expect(h.driver.clientsOf('s1')).toHaveLength(0);
    expect((await h.api('GET', '/api/sessions/s1')).status).toBe(404);
  });

  it('answers 503 with Retry-After when the database does not answer, and launches nothing', async () => {
    auth.unavailable = true;
    const answer = await h.app.inject({ method: 'POST', url: '/api/sessions', payload: { session_id: 's1', workspace_id: 'w1' }, headers: { 'x-api-key': 'unit-key-7d1e0b55' } });
    expect(answer.statusCode).toBe(503);
    expect(answer.json().error.code).toBe('lease_store_unavailable');
    expect(answer.headers['retry-after']).toBe('5');
    expect(h.driver.clientsOf('s1')).toHaveLength(0);
  });

  it('claims before the launch, reports the browser, and saves once connected', async () => {
    expect((await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' })).status).toBe(201);
    const client = await h.client('s1');
    client.emit.browserStarted?.(4242);
    client.emit.ready('628');
    await waitFor(async () => (await h.api('GET', '/api/sessions/s1')).json.status === 'connected', 's1 connected');
    expect(auth.calls).toEqual(['claim s1', 'beforeLaunch s1', 'claim s1', 'browserStarted s1 4242', 'ready s1']);
  });

  it('stops: the final save comes after the browser has closed, then the lease is let go', async () => {
    await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    const client = await h.client('s1');
    client.emit.browserStarted?.(4243);
    client.emit.ready('628');
    let destroyedAtEnd: boolean | undefined;
    const ended = auth.ended.bind(auth);
    auth.ended = async (target, how) => {
      destroyedAtEnd = client.destroyed;
      return ended(target, how);
    };
    expect((await h.api('DELETE', '/api/sessions/s1')).status).toBe(200);
    expect(auth.calls.slice(-2)).toEqual(['browserClosed s1 4243', 'ended s1 stopped']);
    expect(destroyedAtEnd).toBe(true);
  });

  it('logs out: the saved login is deleted, not saved', async () => {
    await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    const client = await h.client('s1');
    client.emit.ready('628');
    await waitFor(async () => (await h.api('GET', '/api/sessions/s1')).json.status === 'connected', 's1 connected');
    expect((await h.api('DELETE', '/api/sessions/s1?logout=true')).status).toBe(200);
    expect(client.loggedOut).toBe(true);
    expect(auth.calls.filter((c) => c.startsWith('ended'))).toEqual(['ended s1 logged_out']);
  });

  it('the phone unlinking the device deletes the saved login', async () => {
    await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    const client = await h.client('s1');
    client.emit.ready('628');
    client.emit.disconnected(REASONS.LOGOUT);
    expect(auth.calls).toContain('loggedOutByPhone s1');
  });
});

describe('a lease lost', () => {
  it('closes the browser at once and relaunches after taking the lease again', async () => {
    await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    const first = await h.client('s1');
    first.emit.ready('628');
    first.emit.browserStarted?.(4244);
    h.manager.leaseLost('s1');
    expect(first.destroyed || first.killed).toBe(true);
    // The watchdog keeps watching it until it has exited, not merely until it was asked to close.
    expect(auth.calls).not.toContain('browserClosed s1 4244');
    await waitFor(() => auth.calls.includes('browserClosed s1 4244'), 'the lost browser forgotten once closed');
    expect((await h.api('GET', '/api/sessions/s1')).json).toMatchObject({ status: 'reconnecting', reason: REASONS.LEASE_LOST });
    const second = await h.client('s1', 2);
    second.emit.ready('628');
    await waitFor(async () => (await h.api('GET', '/api/sessions/s1')).json.status === 'connected', 's1 connected again');
    expect(auth.calls).toContain('paused s1');
  });

  it('a relaunch that finds another worker holding the session gives it up without a browser or a retry', async () => {
    await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    (await h.client('s1')).emit.ready('628');
    auth.elsewhere.set('s1', 'worker-b');
    h.manager.leaseLost('s1');
    await waitFor(async () => (await h.api('GET', '/api/sessions/s1')).json.status === 'disconnected', 's1 given up');
    expect((await h.api('GET', '/api/sessions/s1')).json.reason).toBe(REASONS.LEASED_ELSEWHERE);
    await new Promise((r) => setTimeout(r, 50));
    expect(h.driver.clientsOf('s1')).toHaveLength(1);
  });
});

describe('the restore under leases', () => {
  it('leaves on disk the saved sessions another worker holds, and restores the rest', async () => {
    for (const id of ['s1', 's2']) {
      await writeManifest(path.join(h.sessionsDir, 'w1', id), { workspace_id: 'w1', session_id: id, desired: 'running', phone_number: '628', updated_at: '' });
    }
    auth.elsewhere.set('s2', 'worker-b');
    const prepared = await prepareRestore({ manager: h.manager, sessionsDir: h.sessionsDir, logger: h.logger });
    expect(prepared.tickets.map((t) => t.sessionId)).toEqual(['s1']);
    expect(prepared.report.leasedElsewhere).toEqual(['s2']);
    expect((await h.api('GET', '/api/sessions/s2')).status).toBe(404);
  });
});
