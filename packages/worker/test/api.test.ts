import { qrTag } from '../src/sessions/manager';
import fs from 'node:fs/promises';
import path from 'node:path';
import { readManifest } from '../src/sessions/manifest';
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

  it('serves the PNG of the QR a page saw a moment ago though the session was paired since (the dashboard\'s race), never any other', async () => {
    await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    const c = await client(h, 's1');
    c.emit.qr('2@first,def,ghi,jkl,1');
    c.emit.qr('2@second,def,ghi,jkl,1');
    c.emit.ready('628111');
    const shown = qrTag('2@second,def,ghi,jkl,1');
    const png = await h.api('GET', `/api/sessions/s1/qr?format=png&v=${shown}`);
    expect(png.status).toBe(200);
    expect(png.type).toBe('image/png');
    // The QR before it, one never shown, no tag, or the JSON form: no QR to scan.
    for (const url of [`?format=png&v=${qrTag('2@first,def,ghi,jkl,1')}`, '?format=png&v=zzz', '?format=png', `?v=${shown}`]) {
      expect({ url, status: (await h.api('GET', `/api/sessions/s1/qr${url}`)).status }).toEqual({ url, status: 409 });
    }
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
