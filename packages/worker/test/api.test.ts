import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalProfileHost } from '../src/browser/profile-host';
import { readManifest, writeManifest } from '../src/sessions/manifest';
import { restoreSessions } from '../src/sessions/restore';
import { waitFor } from './helpers';
import { apiHarness, API_HARNESS_KEY, type ApiHarness } from './session-harness';

// Generous: these tests are fast, but CI machines can be busy.
jest.setTimeout(20_000);

const KEY = API_HARNESS_KEY;

type Harness = ApiHarness;
const harness = apiHarness;

/** The `n`-th client launched for a session, once the manager has created it. */
async function client(h: Harness, sessionId: string, n = 1) {
  await waitFor(() => h.driver.clientsOf(sessionId).length >= n, `client ${n} of ${sessionId}`, 5000);
  return h.driver.clientsOf(sessionId)[n - 1]!;
}

describe('HTTP API', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('answers /health without a key, with counts by status', async () => {
    await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    (await client(h, 's1')).emit.ready('628111');
    const health = await h.api('GET', '/health', undefined, null);
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({
      status: 'ok',
      uptime: expect.any(Number),
      sessions: { total: 1, connected: 1, by_status: { connected: 1 } },
      memory: { rss: expect.any(Number) },
      version: '0.1.0',
      capacity: { max: null, used: 1 },
    });
  });

  it('answers a start over WHATSAPP_MAX_SESSIONS with 503 capacity_exhausted and Retry-After, launching nothing', async () => {
    await h.close();
    h = await harness({ capacity: { maxSessions: 1, minFreeMemoryMb: 0 } });
    expect((await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' })).status).toBe(201);
    const response = await h.app.inject({ method: 'POST', url: '/api/sessions', payload: { session_id: 's2', workspace_id: 'w1' }, headers: { 'x-api-key': KEY } });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('60');
    expect(response.json()).toEqual({ error: { code: 'capacity_exhausted', message: expect.stringContaining('WHATSAPP_MAX_SESSIONS') } });
    expect((await h.api('GET', '/health', undefined, null)).json.capacity).toEqual({ max: 1, used: 1 });
    await client(h, 's1');
    expect(h.driver.clientsOf('s2')).toHaveLength(0);
  });

  it('refuses /api without the right key with 401 in the error shape', async () => {
    for (const key of [null, 'wrong', KEY + 'x']) {
      const answer = await h.api('GET', '/api/sessions', undefined, key);
      expect(answer.status).toBe(401);
      expect(answer.json).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    }
  });

  it('accepts the key in the api_key query parameter (the seed scripts) and never logs it', async () => {
    const answer = await h.api('GET', `/api/sessions?api_key=${KEY}`, undefined, null);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ sessions: [] });
    await h.api('GET', `/api/sessions/nope?api_key=${KEY}`, undefined, null);
    await h.api('GET', `/api/sessions?api_key=${KEY}-wrong`, undefined, null);
    await h.api('POST', `/api/sessions?api_key=${KEY}`, { session_id: 's1', workspace_id: 'w1' }, null);
    const log = await h.log();
    expect(log).toContain('/api/sessions');
    expect(log).not.toContain(KEY);
  });

  it.each([
    ['a missing workspace_id', { session_id: 's1' }, 'invalid_request'],
    ['a session_id that climbs out of its folder', { session_id: '../etc', workspace_id: 'w1' }, 'invalid_id'],
    ['a workspace_id with a slash', { session_id: 's1', workspace_id: 'a/b' }, 'invalid_id'],
    ['an id too long', { session_id: 'x'.repeat(101), workspace_id: 'w1' }, 'invalid_id'],
  ])('answers 400 for %s', async (_what, body, code) => {
    const answer = await h.api('POST', '/api/sessions', body);
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ error: { code, message: expect.any(String) } });
    expect(h.driver.clients).toHaveLength(0);
  });

  it('answers 400 for a bad id in the path or query', async () => {
    expect((await h.api('GET', '/api/sessions/a%2F..%2Fb')).status).toBe(400);
    expect((await h.api('GET', '/api/sessions/a.b')).status).toBe(400);
    expect((await h.api('GET', '/api/sessions?workspace_id=..')).status).toBe(400);
  });

  it.each([
    ['GET', '/api/sessions/unknown'],
    ['GET', '/api/sessions/unknown/qr'],
    ['POST', '/api/sessions/unknown/reconnect'],
    ['DELETE', '/api/sessions/unknown'],
    ['GET', '/api/nothing-here'],
  ] as const)('answers 404 for %s %s', async (method, url) => {
    const answer = await h.api(method, url);
    expect(answer.status).toBe(404);
    expect(answer.json.error).toEqual({ code: expect.any(String), message: expect.any(String) });
  });

  it('starts a session with 201, answers 200 for a live one, and launches one client for two concurrent POSTs', async () => {
    const body = { session_id: 's1', workspace_id: 'w1' };
    const [a, b] = await Promise.all([h.api('POST', '/api/sessions', body), h.api('POST', '/api/sessions', body)]);
    expect([a.status, b.status].sort()).toEqual([200, 201]);
    expect(a.json).toMatchObject({ session_id: 's1', workspace_id: 'w1', status: 'initializing', phone_number: null });
    await client(h, 's1');
    await h.manager.forceCleanupSession('nobody'); // let the launch chain run
    expect(h.driver.clients).toHaveLength(1);
    expect((await h.api('POST', '/api/sessions', body)).status).toBe(200);
    expect(h.driver.clients).toHaveLength(1);
    expect((await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w2' })).status).toBe(409);
  });

  it('shows the QR as a string while qr_scanning, and as a PNG', async () => {
    await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    const c = await client(h, 's1');
    expect((await h.api('GET', '/api/sessions/s1/qr')).status).toBe(409);
    c.emit.qr('2@abc,def,ghi,jkl,1');
    expect((await h.api('GET', '/api/sessions/s1')).json).toMatchObject({ status: 'qr_scanning', qr: '2@abc,def,ghi,jkl,1' });
    expect((await h.api('GET', '/api/sessions/s1/qr')).json).toEqual({ qr: '2@abc,def,ghi,jkl,1' });
    const png = await h.api('GET', '/api/sessions/s1/qr?format=png');
    expect(png.status).toBe(200);
    expect(png.type).toBe('image/png');
    expect(png.raw.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(h.events.some((e) => e.event === 'session.qr')).toBe(true);
  });

  it('lists sessions with the contract fields plus reason, filtered by workspace', async () => {
    await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    await h.api('POST', '/api/sessions', { session_id: 's2', workspace_id: 'w2' });
    (await client(h, 's1')).emit.ready('628111');
    const all = (await h.api('GET', '/api/sessions')).json.sessions;
    expect(all).toHaveLength(2);
    expect(all[0]).toEqual({
      session_id: 's1',
      workspace_id: 'w1',
      status: 'connected',
      phone_number: '628111',
      updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      qr: null,
      pairing_code: null,
      reason: null,
      reconnect_attempts: 0,
      last_seen_alive_at: expect.any(String),
    });
    expect((await h.api('GET', '/api/sessions?workspace_id=w2')).json.sessions.map((s: any) => s.session_id)).toEqual(['s2']);
  });

  it('DELETE stops a session, frees it, keeps its auth unless logout=true', async () => {
    await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    await h.api('POST', '/api/sessions', { session_id: 's2', workspace_id: 'w1' });
    (await client(h, 's1')).emit.ready('628111');
    (await client(h, 's2')).emit.ready('628222');

    const stopped = await h.api('DELETE', '/api/sessions/s1');
    expect(stopped).toMatchObject({ status: 200, json: { session_id: 's1', stopped: true, logged_out: false } });
    expect(h.driver.last('s1').destroyed).toBe(true);
    expect((await h.api('GET', '/api/sessions/s1')).status).toBe(404);
    expect(await readManifest(path.join(h.sessionsDir, 'w1', 's1'))).toMatchObject({ desired: 'stopped', phone_number: '628111' });

    const loggedOut = await h.api('DELETE', '/api/sessions/s2?logout=true');
    expect(loggedOut.json).toMatchObject({ logged_out: true });
    expect(h.driver.last('s2').loggedOut).toBe(true);
    await expect(fs.stat(path.join(h.sessionsDir, 'w1', 's2'))).rejects.toThrow('ENOENT');
  });

  it('POST /reconnect answers 202 and starts a new client after cleaning up the old one', async () => {
    await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    const first = await client(h, 's1');
    first.emit.ready('628111');
    const answer = await h.api('POST', '/api/sessions/s1/reconnect');
    expect(answer.status).toBe(202);
    expect(answer.json).toMatchObject({ session_id: 's1', status: 'initializing' });
    await waitFor(() => h.driver.clients.length === 2, 'a second client');
    expect(first.destroyed).toBe(true);
    first.emit.ready('628111'); // a late event of the old client
    expect(h.manager.get('s1').status).toBe('initializing');
  });

  it('serves the OpenAPI document and the UI at /docs', async () => {
    const spec = await h.api('GET', '/docs/json', undefined, null);
    expect(spec.status).toBe(200);
    expect(Object.keys(spec.json.paths)).toEqual(
      expect.arrayContaining(['/health', '/api/sessions', '/api/sessions/{session_id}', '/api/sessions/{session_id}/qr']),
    );
    expect(Object.keys(spec.json.paths).filter((p) => p.startsWith('/docs'))).toEqual([]);
    const page = await h.app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('/docs/json');
    expect((await h.app.inject({ method: 'GET', url: '/docs' })).headers.location).toBe('/docs/');
    for (const file of ['swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js', 'swagger-ui.css']) {
      const asset = await h.app.inject({ method: 'GET', url: `/docs/static/${file}` });
      expect(asset.statusCode).toBe(200);
      expect(page.body).toContain(`/docs/static/${file}`);
      expect(asset.rawPayload.length).toBeGreaterThan(1000);
    }
    // nothing else of the package, and nothing outside it
    for (const url of ['/docs/static/package.json', '/docs/static/..%2F..%2Fpackage.json', '/docs/static/..%2Fswagger-ui-dist%2Findex.js']) {
      expect((await h.app.inject({ method: 'GET', url })).statusCode).toBe(404);
    }
  });
});

describe('session manager', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  async function connected(sessionId = 's1') {
    h.manager.start('w1', sessionId);
    (await client(h, sessionId, h.driver.clientsOf(sessionId).length + 1)).emit.ready('628111');
    expect(h.manager.get(sessionId).status).toBe('connected');
    return h.driver.last(sessionId);
  }

  const statuses = (sessionId = 's1') =>
    h.events.filter((e) => e.event === 'session.status' && e.session_id === sessionId).map((e) => (e.payload as { status: string }).status);

  it('reconnects after a disconnect with a new client, and is connected again', async () => {
    h = await harness();
    const first = await connected();
    first.emit.disconnected('CONFLICT');
    expect(h.manager.get('s1')).toMatchObject({ status: 'reconnecting', reason: 'CONFLICT', reconnect_attempts: 1 });
    const second = await client(h, 's1', 2);
    expect(first.destroyed).toBe(true);
    second.emit.ready('628111');
    expect(h.manager.get('s1')).toMatchObject({ status: 'connected', reason: null, reconnect_attempts: 0 });
    expect(statuses()).toEqual(['initializing', 'connected', 'reconnecting', 'connected']);
  });

  it('is failed once the reconnect attempts are exhausted', async () => {
    h = await harness({ maxReconnectAttempts: 2 });
    await connected();
    h.driver.configure = (client) => {
      client.onInitialize = () => Promise.reject(new Error('net::ERR_CONNECTION_REFUSED'));
    };
    h.driver.last('s1').emit.browserGone('BROWSER_CLOSED');
    await waitFor(() => h.manager.get('s1').status === 'failed', 'failed');
    expect(h.driver.clients).toHaveLength(3);
    expect(h.manager.get('s1')).toMatchObject({ reason: 'LAUNCH_FAILED', reconnect_attempts: 2 });
    expect(statuses()).toEqual(['initializing', 'connected', 'reconnecting', 'failed']);
    // a failed session can be started again
    h.driver.configure = () => undefined;
    expect(h.manager.start('w1', 's1').created).toBe(true);
  });

  it('does not reconnect a LOGOUT: the same client shows a new QR', async () => {
    h = await harness();
    const client = await connected();
    client.emit.disconnected('LOGOUT');
    expect(h.manager.get('s1')).toMatchObject({ status: 'qr_scanning', reason: 'LOGOUT', phone_number: null, qr: null });
    client.emit.qr('2@new');
    expect(h.manager.get('s1').qr).toBe('2@new');
    await new Promise((r) => setTimeout(r, 20));
    expect(h.driver.clients).toHaveLength(1);
    expect(client.destroyed).toBe(false);
  });

  it('settles on disconnected when auto-reconnect is off', async () => {
    h = await harness({ autoReconnect: false });
    const client = await connected();
    client.emit.disconnected('CONFLICT');
    expect(h.manager.get('s1')).toMatchObject({ status: 'disconnected', reason: 'CONFLICT' });
    await new Promise((r) => setTimeout(r, 20));
    expect(h.driver.clients).toHaveLength(1);
  });

  it('never keeps reporting connected for a wedged page or a dead browser', async () => {
    h = await harness();
    const wedged = await connected('s1');
    const dead = await connected('s2');
    const healthy = await connected('s3');
    wedged.wedged = true;
    dead.alive = false;
    await h.manager.probeAll();
    expect(h.manager.get('s1')).toMatchObject({ status: 'reconnecting', reason: 'PROBE_TIMEOUT' });
    expect(h.manager.get('s2')).toMatchObject({ status: 'reconnecting', reason: 'BROWSER_GONE' });
    expect(h.manager.get('s3').status).toBe('connected');
    healthy.state = 'CONFLICT';
    await h.manager.probeAll();
    expect(h.manager.get('s3')).toMatchObject({ status: 'reconnecting', reason: 'STATE_CONFLICT' });
  });

  it('ignores a probe that failed because the session changed under it (a LOGOUT while getState() was pending)', async () => {
    h = await harness();
    const client = await connected();
    client.wedged = true; // the page is navigating away: getState() will not answer
    const probing = h.manager.probeAll();
    client.emit.disconnected('LOGOUT');
    await probing;
    expect(h.manager.get('s1')).toMatchObject({ status: 'qr_scanning', reason: 'LOGOUT' });
    await new Promise((r) => setTimeout(r, 20));
    expect(h.driver.clients).toHaveLength(1);
    expect(client.destroyed).toBe(false);
  });

  it('answers a POST for a session whose browser died unnoticed by starting it again', async () => {
    h = await harness();
    const dead = await connected();
    dead.alive = false;
    expect(h.manager.start('w1', 's1').created).toBe(true);
    await client(h, 's1', 2);
    expect(dead.destroyed).toBe(true);
  });

  it('stops a session whose launch hangs without waiting for it', async () => {
    h = await harness({ initTimeoutMs: 60_000 });
    h.driver.configure = (c) => {
      c.onInitialize = () => new Promise(() => undefined);
    };
    h.manager.start('w1', 's1');
    const launching = await client(h, 's1');
    await h.manager.stop('s1');
    expect(launching.destroyed).toBe(true);
    expect(h.manager.list().map((session) => session.session_id)).not.toContain('s1');
    expect((await readManifest(path.join(h.sessionsDir, 'w1', 's1'))).desired).toBe('stopped');
  });

  it('does not take a client that is still launching for a dead one', async () => {
    h = await harness();
    h.driver.configure = (c) => {
      c.alive = false; // no browser yet
      c.onInitialize = () => new Promise(() => undefined);
    };
    h.manager.start('w1', 's1');
    await client(h, 's1');
    await h.manager.probeAll();
    expect(h.manager.get('s1').status).toBe('initializing');
  });

  it('serializes lifecycle operations: a new client is launched only after the old one is disposed', async () => {
    // Two reconnects queued behind a slow launch coalesce into one new client.
    h = await harness();
    const order: string[] = [];
    let release!: () => void;
    h.driver.configure = (client) => {
      const n = h.driver.clients.length + 1;
      client.onInitialize = () => {
        order.push(`init ${n}`);
        return n === 1 ? new Promise<void>((r) => (release = r)) : Promise.resolve();
      };
      client.destroy = async () => {
        order.push(`destroy ${n}`);
        client.destroyed = true;
      };
    };
    h.manager.start('w1', 's1');
    await client(h, 's1');
    const reconnect = h.manager.reconnect('s1');
    const again = h.manager.reconnect('s1');
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(['init 1']);
    release();
    await reconnect;
    await again;
    await waitFor(() => order.length === 3, 'the reconnect');
    await h.manager.reconnect('s1');
    await waitFor(() => order.length === 5, 'one more reconnect');
    expect(order).toEqual(['init 1', 'destroy 1', 'init 2', 'destroy 2', 'init 3']);
    expect(h.driver.clients).toHaveLength(3);
  });

  it('force cleanup never throws, kills a browser whose destroy hangs, and forgets the session', async () => {
    h = await harness({ destroyTimeoutMs: 30 });
    const client = await connected();
    client.destroy = () => new Promise(() => undefined);
    await expect(h.manager.forceCleanupSession('s1')).resolves.toBeUndefined();
    expect(client.killed).toBe(true);
    expect(h.manager.list().map((session) => session.session_id)).not.toContain('s1');
    await expect(h.manager.forceCleanupSession('never-existed')).resolves.toBeUndefined();
  });

  it('restores saved running sessions, skips stopped ones, reports broken ones, and force-cleans a present one first', async () => {
    h = await harness();
    const present = await connected('s1');
    const save = (ws: string, id: string, desired: 'running' | 'stopped') =>
      writeManifest(path.join(h.sessionsDir, ws, id), { workspace_id: ws, session_id: id, desired, phone_number: null, updated_at: '' });
    await save('w1', 's2', 'running');
    await save('w2', 's3', 'stopped');
    await fs.mkdir(path.join(h.sessionsDir, 'w2', 's4', 'session'), { recursive: true });
    await fs.writeFile(path.join(h.sessionsDir, 'w2', 's4', 'session.json'), 'garbage');
    h.driver.configure = (client) => {
      client.onInitialize = async () => {
        setImmediate(() => client.emit.ready('62800'));
      };
    };
    const report = await restoreSessions({ manager: h.manager, sessionsDir: h.sessionsDir, concurrency: 2, logger: h.logger });
    expect(report.restored.sort()).toEqual(['s1', 's2']);
    expect(report.skipped).toEqual(['s3']);
    expect(report.broken).toEqual([{ folder: path.join(h.sessionsDir, 'w2', 's4'), error: expect.stringContaining('not valid JSON') }]);
    expect(present.destroyed).toBe(true);
    expect(h.driver.clientsOf('s1')).toHaveLength(2);
    expect(h.manager.list().map((s) => [s.session_id, s.status])).toEqual([
      ['s1', 'connected'],
      ['s2', 'connected'],
    ]);
    const log = await h.log();
    expect(log).toContain('Force cleanup session');
    expect(log).toContain('✅ Session restored: s2');
  });

  it('restores several sessions at once but launches their browsers one at a time', async () => {
    h = await harness();
    for (const id of ['a1', 'a2', 'a3']) {
      await writeManifest(path.join(h.sessionsDir, 'w1', id), { workspace_id: 'w1', session_id: id, desired: 'running', phone_number: null, updated_at: '' });
    }
    let launching = 0;
    let maxLaunching = 0;
    const events: string[] = [];
    h.driver.configure = (c) => {
      c.onInitialize = async () => {
        maxLaunching = Math.max(maxLaunching, ++launching);
        events.push(`launch ${c.spec.sessionId}`);
        await new Promise((r) => setTimeout(r, 20));
        launching--;
        setTimeout(() => {
          events.push(`ready ${c.spec.sessionId}`);
          c.emit.ready('62800');
        }, 300);
      };
    };
    const report = await restoreSessions({ manager: h.manager, sessionsDir: h.sessionsDir, concurrency: 2, logger: h.logger, headStartMs: 0 });
    expect(report.restored.sort()).toEqual(['a1', 'a2', 'a3']);
    expect(maxLaunching).toBe(1);
    // a2 launched while a1 was still on its way to ready: restores overlap
    expect(events.indexOf('launch a2')).toBeLessThan(events.indexOf('ready a1'));
  });

  /** The marker of an earlier worker's Chromium (`markerArg`), which this worker may kill. */
  const EARLIER_WORKER = '--wa-worker-sessions=/earlier#0123';

  /** A process standing for an earlier worker's Chromium: on `folder`'s profile, holding its SingletonLock. */
  async function closingBrowser(folder: string): Promise<{ child: ChildProcess; exited: Promise<NodeJS.Signals | null> }> {
    const profile = path.join(folder, 'session');
    await fs.mkdir(profile, { recursive: true });
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', '--', `--user-data-dir=${profile}`, EARLIER_WORKER], { stdio: 'ignore' });
    await fs.symlink(`${os.hostname()}-${child.pid}`, path.join(profile, 'SingletonLock'));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    return { child, exited };
  }

  it('waits for a Chromium still closing the profile before launching, and kills it only after the bound', async () => {
    h = await harness({ profileReleaseTimeoutMs: 60_000 });
    h.driver.profiles = new LocalProfileHost([EARLIER_WORKER]); // a real process holds the profile
    const folder = path.join(h.sessionsDir, 'w1', 's1');
    const closing = await closingBrowser(folder);
    h.manager.start('w1', 's1');
    await new Promise((r) => setTimeout(r, 300));
    expect(h.driver.clients).toHaveLength(0); // not while the old browser may still be saving the profile
    closing.child.kill('SIGTERM'); // it finished closing by itself
    expect(await closing.exited).toBe('SIGTERM');
    await client(h, 's1');
    await h.close();

    h = await harness({ profileReleaseTimeoutMs: 200 });
    h.driver.profiles = new LocalProfileHost([EARLIER_WORKER]);
    const hung = await closingBrowser(path.join(h.sessionsDir, 'w1', 's2'));
    h.manager.start('w1', 's2');
    expect(await hung.exited).toBe('SIGKILL'); // never closed: killed after the bound
    await client(h, 's2');
  });

  it('restores the sessions whose profile is free first', async () => {
    h = await harness({ profileReleaseTimeoutMs: 60_000 });
    h.driver.profiles = new LocalProfileHost([EARLIER_WORKER]);
    for (const id of ['a1', 'a2', 'a3']) {
      await writeManifest(path.join(h.sessionsDir, 'w1', id), { workspace_id: 'w1', session_id: id, desired: 'running', phone_number: null, updated_at: '' });
    }
    const closing = await closingBrowser(path.join(h.sessionsDir, 'w1', 'a1'));
    h.driver.configure = (c) => {
      c.onInitialize = async () => {
        setImmediate(() => c.emit.ready('62800'));
      };
    };
    const restoring = restoreSessions({ manager: h.manager, sessionsDir: h.sessionsDir, concurrency: 1, logger: h.logger, headStartMs: 0 });
    await waitFor(() => h.driver.clients.length === 2, 'the two free sessions');
    expect(h.driver.clients.map((c) => c.spec.sessionId)).toEqual(['a2', 'a3']);
    closing.child.kill('SIGTERM');
    expect((await restoring).restored).toEqual(['a2', 'a3', 'a1']);
  });

  it('shutdown destroys every client and keeps them saved as running', async () => {
    h = await harness();
    const a = await connected('s1');
    const b = await connected('s2');
    await h.manager.shutdown(1000);
    expect([a.destroyed, b.destroyed]).toEqual([true, true]);
    expect(h.manager.list()).toEqual([]);
    expect((await readManifest(path.join(h.sessionsDir, 'w1', 's1'))).desired).toBe('running');
    expect(() => h.manager.start('w1', 's3')).toThrow('shutting down');
  });
});
