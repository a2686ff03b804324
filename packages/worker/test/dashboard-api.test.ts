import type { FastifyRequest } from 'fastify';
import { DashboardSignIns } from '../src/routes/dashboard-auth';
import { apiHarness, API_HARNESS_KEY, type ApiHarness } from './session-harness';

// The dashboard's sign-in and the API's cookie path, through Fastify's inject (host localhost:80).
jest.setTimeout(20_000);

const OWN_ORIGIN = 'http://localhost:80';

describe('dashboard sign-in and the API by cookie', () => {
  let h: ApiHarness;
  beforeEach(async () => {
    h = await apiHarness({}, { authThrottle: { maxFailures: 3 } });
  });
  afterEach(async () => {
    await h.close();
  });

  const signIn = (key: string, origin = OWN_ORIGIN) =>
    h.app.inject({ method: 'POST', url: '/dashboard/sign-in', headers: { 'content-type': 'application/x-www-form-urlencoded', origin }, payload: new URLSearchParams({ key }).toString() });
  const cookieOf = async () => String((await signIn(API_HARNESS_KEY)).headers['set-cookie']).split(';')[0]!;
  const start = (headers: Record<string, string>) =>
    h.app.inject({ method: 'POST', url: '/api/sessions', headers: { 'content-type': 'application/json', ...headers }, payload: { session_id: 's1', workspace_id: 'w1' } });

  it('exchanges the key for an HttpOnly, SameSite=Strict, Path=/ cookie (not Secure over http), never the key', async () => {
    const answer = await signIn(API_HARNESS_KEY);
    expect(answer.statusCode).toBe(303);
    expect(answer.headers.location).toBe('/dashboard');
    const cookie = String(answer.headers['set-cookie']);
    expect(cookie).toMatch(/^wa_dashboard=[A-Za-z0-9_-]{43}; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(cookie).not.toContain(API_HARNESS_KEY);
  });

  it('serves the page with a CSP without inline scripts, never framed', async () => {
    const page = await h.app.inject({ method: 'GET', url: '/dashboard', headers: { cookie: await cookieOf() } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('/dashboard/static/app.js');
    expect(page.headers['content-security-policy']).toContain("script-src 'self';");
    expect(page.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    const signInForm = await h.app.inject({ method: 'GET', url: '/dashboard' });
    expect(signInForm.body).toContain('action="/dashboard/sign-in"');
    expect((await h.app.inject({ method: 'GET', url: '/dashboard/static/preact-htm.js' })).body).toContain('export{');
    expect((await h.app.inject({ method: 'GET', url: '/dashboard/static/..%2Fpackage.json' })).statusCode).toBe(404);
  });

  it('lets the cookie change state only with the worker\'s own Origin; a missing or foreign one is refused, nothing started', async () => {
    const cookie = await cookieOf();
    expect((await h.app.inject({ method: 'GET', url: '/api/sessions', headers: { cookie } })).statusCode).toBe(200);
    for (const origin of [undefined, 'http://localhost:8080', 'http://evil.example', 'null']) {
      const answer = await start(origin === undefined ? { cookie } : { cookie, origin });
      expect([origin, answer.statusCode, answer.json()]).toEqual([origin, 403, { error: { code: 'forbidden_origin', message: expect.any(String) } }]);
    }
    expect((await h.api('GET', '/api/sessions')).json.sessions).toEqual([]);
    expect((await start({ cookie, origin: OWN_ORIGIN })).statusCode).toBe(201);
  });

  it('does not check the Origin of a program that sends the key', async () => {
    expect((await start({ 'x-api-key': API_HARNESS_KEY, origin: 'http://elsewhere.example' })).statusCode).toBe(201);
  });

  it('counts wrong keys at sign-in in the failed-authentication throttle', async () => {
    for (let i = 0; i < 3; i++) {
      const answer = await signIn('wrong-key-0123456789');
      expect([answer.statusCode, answer.headers.location, answer.headers['set-cookie']]).toEqual([303, '/dashboard?sign-in=wrong-key', undefined]);
    }
    expect((await h.api('GET', '/api/sessions')).status).toBe(429);
    expect((await signIn(API_HARNESS_KEY)).headers.location).toBe('/dashboard?sign-in=throttled');
  });

  it('signs out only from its own origin, and the cookie then opens nothing', async () => {
    const cookie = await cookieOf();
    await h.app.inject({ method: 'POST', url: '/dashboard/sign-out', headers: { cookie, origin: 'http://localhost:8080' } });
    expect((await h.app.inject({ method: 'GET', url: '/api/sessions', headers: { cookie } })).statusCode).toBe(200);
    const out = await h.app.inject({ method: 'POST', url: '/dashboard/sign-out', headers: { cookie, origin: OWN_ORIGIN } });
    expect(out.headers['set-cookie']).toMatch(/^wa_dashboard=; Max-Age=0;/);
    expect((await h.app.inject({ method: 'GET', url: '/api/sessions', headers: { cookie } })).statusCode).toBe(401);
    expect((await h.app.inject({ method: 'GET', url: '/dashboard/events', headers: { cookie } })).statusCode).toBe(401);
  });
});

describe('DashboardSignIns', () => {
  it('ends a sign-in at its expiry, and on sign-out', () => {
    let now = 1_000_000;
    const signIns = new DashboardSignIns('the-key', () => now, 60_000);
    const a = signIns.create();
    const b = signIns.create();
    expect(a).not.toBe(b);
    expect([signIns.valid(a), signIns.valid(b), signIns.valid('forged'), signIns.valid(undefined)]).toEqual([true, true, false, false]);
    signIns.end(b);
    expect(signIns.valid(b)).toBe(false);
    now += 59_999;
    expect(signIns.valid(a)).toBe(true);
    now += 1;
    expect(signIns.valid(a)).toBe(false);
    expect([signIns.keyMatches('the-key'), signIns.keyMatches('the-ke'), signIns.keyMatches('')]).toEqual([true, false, false]);
  });

  it('marks the cookie Secure when the request came over https', () => {
    const signIns = new DashboardSignIns('the-key');
    expect(signIns.cookie({ protocol: 'https' } as FastifyRequest, 'token')).toBe('wa_dashboard=token; Max-Age=43200; Path=/; HttpOnly; Secure; SameSite=Strict');
  });
});
