import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { ERROR_CODES, SESSION_STATUSES } from '@wa-session-sync/shared';
import type { SessionManager } from '../src/sessions/manager';
import type { FakeDriver } from './fake-driver';
import { waitFor } from './helpers';
import { apiHarness, API_HARNESS_KEY, type ApiHarness } from './session-harness';

// The HTTP edge of the worker: bodies (empty, too large, of unknown types), the error shape of
// each refusal, and the OpenAPI document made from the shared schemas.

jest.setTimeout(20_000);

const KEY = API_HARNESS_KEY;
const MIB = 1024 * 1024;

let h: ApiHarness;
let driver: FakeDriver;
let manager: SessionManager;
let app: FastifyInstance;

beforeEach(async () => {
  h = await apiHarness();
  ({ driver, manager, app } = h);
});

afterEach(async () => {
  await h.close();
});

/** Starts `sessionId` in workspace w1 and has it connected. */
async function connected(sessionId: string): Promise<void> {
  manager.start('w1', sessionId);
  await waitFor(() => driver.clientsOf(sessionId).length > 0, `the client of ${sessionId}`, 5000);
  driver.last(sessionId).emit.ready('628111');
  expect(manager.get(sessionId).status).toBe('connected');
}

async function inject(options: InjectOptions) {
  const response = await app.inject({ ...options, headers: { 'x-api-key': KEY, ...options.headers } });
  return { status: response.statusCode, json: response.json() };
}

function expectError(answer: { status: number; json: unknown }, status: number, code: string): void {
  expect(answer).toEqual({ status, json: { error: { code, message: expect.any(String) } } });
  expect(ERROR_CODES).toContain(code);
}

describe('routes without a body', () => {
  it.each(['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/xml'])(
    'accept an empty body sent as %s',
    async (type) => {
      await connected('s1');
      await connected('s2');
      const headers = { 'content-type': type };
      const reconnect = await inject({ method: 'POST', url: '/api/sessions/s1/reconnect', headers });
      expect(reconnect).toMatchObject({ status: 202, json: { session_id: 's1', status: 'initializing' } });
      const stop = await inject({ method: 'DELETE', url: '/api/sessions/s2', headers });
      expect(stop).toEqual({ status: 200, json: { session_id: 's2', stopped: true, logged_out: false } });
    },
  );

  it('accept an empty JSON body and still answer 404 for an unknown session', async () => {
    const headers = { 'content-type': 'application/json' };
    expectError(await inject({ method: 'POST', url: '/api/sessions/nobody/reconnect', headers }), 404, 'session_not_found');
    expectError(await inject({ method: 'DELETE', url: '/api/sessions/nobody', headers }), 404, 'session_not_found');
  });

  it('accept the `{}` the CLI sends to reconnect', async () => {
    await connected('s1');
    const answer = await inject({ method: 'POST', url: '/api/sessions/s1/reconnect', headers: { 'content-type': 'application/json' }, payload: '{}' });
    expect(answer.status).toBe(202);
  });
});

describe('refused bodies keep the error shape', () => {
  it('answers 400 invalid_request for an empty or malformed JSON body where one is needed', async () => {
    const headers = { 'content-type': 'application/json' };
    expectError(await inject({ method: 'POST', url: '/api/sessions', headers }), 400, 'invalid_request');
    expectError(await inject({ method: 'POST', url: '/api/sessions', headers, payload: '{"session_id":' }), 400, 'invalid_request');
    expect(driver.clients).toHaveLength(0);
  });

  it('answers 413 payload_too_large for a body over 1 MiB, on any route', async () => {
    await connected('s1');
    const big = JSON.stringify({ session_id: 's2', workspace_id: 'w1', padding: 'x'.repeat(MIB) });
    const headers = { 'content-type': 'application/json' };
    expectError(await inject({ method: 'POST', url: '/api/sessions', headers, payload: big }), 413, 'payload_too_large');
    expectError(await inject({ method: 'POST', url: '/api/sessions/s1/reconnect', headers, payload: big }), 413, 'payload_too_large');
    expect(driver.clientsOf('s2')).toHaveLength(0);
    expect(driver.clientsOf('s1')).toHaveLength(1);
  });

  it('takes a body of exactly 1 MiB', async () => {
    const body = JSON.stringify({ session_id: 's2', workspace_id: 'w1', padding: '' });
    const payload = body.replace('"padding":""', `"padding":"${'x'.repeat(MIB - body.length)}"`);
    expect(Buffer.byteLength(payload)).toBe(MIB);
    const answer = await inject({ method: 'POST', url: '/api/sessions', headers: { 'content-type': 'application/json' }, payload });
    expect(answer.status).toBe(201);
  });

  it.each([
    ['application/xml', '<session id="s1"/>'],
    ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="session_id"\r\n\r\ns1\r\n--x--\r\n'],
    ['not a media type', '{"session_id":"s1","workspace_id":"w1"}'],
  ])('answers 415 unsupported_media_type for a body sent as %s', async (type, payload) => {
    expectError(await inject({ method: 'POST', url: '/api/sessions', headers: { 'content-type': type }, payload }), 415, 'unsupported_media_type');
    expect(driver.clients).toHaveLength(0);
  });

  it('answers 415 for a body without a Content-Type', async () => {
    const answer = await app.inject({
      method: 'POST',
      url: '/api/sessions',
      headers: { 'x-api-key': KEY },
      payload: Buffer.from('{"session_id":"s1","workspace_id":"w1"}'),
    });
    expectError({ status: answer.statusCode, json: answer.json() }, 415, 'unsupported_media_type');
  });
});

describe('over real HTTP', () => {
  let base: string;
  beforeEach(async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  it('DELETE and reconnect with Content-Type: application/json and no body succeed (fetch)', async () => {
    await connected('s1');
    await connected('s2');
    const headers = { 'content-type': 'application/json', 'x-api-key': KEY };
    const reconnect = await fetch(`${base}/api/sessions/s1/reconnect`, { method: 'POST', headers });
    expect(reconnect.status).toBe(202);
    expect(await reconnect.json()).toMatchObject({ session_id: 's1', status: 'initializing' });
    const stop = await fetch(`${base}/api/sessions/s2`, { method: 'DELETE', headers });
    expect(stop.status).toBe(200);
    expect(await stop.json()).toEqual({ session_id: 's2', stopped: true, logged_out: false });
  });

  it('DELETE and reconnect with Content-Type: application/json and no body succeed (node:http, chunked)', async () => {
    await connected('s1');
    await connected('s2');
    const send = (method: string, path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = http.request(`${base}${path}`, { method, headers: { 'content-type': 'application/json', 'x-api-key': KEY } }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        });
        request.on('error', reject);
        // A body stream that ends empty: `Transfer-Encoding: chunked` and only the last, empty chunk.
        request.setHeader('transfer-encoding', 'chunked');
        request.end();
      });
    const reconnect = await send('POST', '/api/sessions/s1/reconnect');
    expect(reconnect.status).toBe(202);
    expect(JSON.parse(reconnect.body)).toMatchObject({ session_id: 's1' });
    const stop = await send('DELETE', '/api/sessions/s2');
    expect(stop.status).toBe(200);
    expect(JSON.parse(stop.body)).toEqual({ session_id: 's2', stopped: true, logged_out: false });
  });
});

describe('the OpenAPI document', () => {
  it('is made from the shared schemas', async () => {
    const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    const list = spec.paths['/api/sessions'].get.responses;
    const session = list['200'].content['application/json'].schema.properties.sessions.items;
    expect(session.properties.status).toMatchObject({ type: 'string', enum: [...SESSION_STATUSES] });
    expect(session.properties.phone_number).toMatchObject({ type: 'string', nullable: true });
    expect(session.required).toEqual(['session_id', 'workspace_id', 'status', 'phone_number', 'updated_at']);
    for (const status of ['400', '401', '404', '413', '415']) {
      const error = list[status].content['application/json'].schema.properties.error;
      expect(error.properties.code).toMatchObject({ type: 'string', enum: [...ERROR_CODES] });
    }
    const qr = spec.paths['/api/sessions/{session_id}/qr'].get.responses['200'].content;
    expect(Object.keys(qr)).toEqual(['application/json', 'image/png']);
    const health = spec.paths['/health'].get.responses['200'].content['application/json'].schema;
    expect(Object.keys(health.properties.sessions.properties.by_status.properties)).toEqual([...SESSION_STATUSES]);
  });
});

// Issue 16 point 8: ids, bodies and failed keys at the edge, every refusal in the contract's shape.

/** Every route behind the key, with `id` as its session. */
const sessionRoutes = (id: string): Array<{ method: 'GET' | 'POST' | 'DELETE'; url: string }> => [
  { method: 'GET', url: '/api/sessions' },
  { method: 'POST', url: '/api/sessions' },
  { method: 'GET', url: `/api/sessions/${id}` },
  { method: 'GET', url: `/api/sessions/${id}/qr` },
  { method: 'POST', url: `/api/sessions/${id}/reconnect` },
  { method: 'DELETE', url: `/api/sessions/${id}` },
];

describe('over-long ids', () => {
  const long = 'x'.repeat(101);

  it.each(sessionRoutes(long).filter((route) => route.url.includes(long)))('answer 400 invalid_id on $method $url', async ({ method, url }) => {
    expectError(await inject({ method, url }), 400, 'invalid_id');
  });

  it('answer 400 invalid_id in a body or a query, and an id of 100 characters is an id', async () => {
    const headers = { 'content-type': 'application/json' };
    expectError(await inject({ method: 'POST', url: '/api/sessions', headers, payload: { session_id: long, workspace_id: 'w1' } }), 400, 'invalid_id');
    expectError(await inject({ method: 'POST', url: '/api/sessions', headers, payload: { session_id: 's1', workspace_id: long } }), 400, 'invalid_id');
    expectError(await inject({ method: 'GET', url: `/api/sessions?workspace_id=${long}` }), 400, 'invalid_id');
    expectError(await inject({ method: 'GET', url: `/api/sessions/${'x'.repeat(100)}` }), 404, 'session_not_found');
    expect(driver.clients).toHaveLength(0);
  });

  it('answer 400 invalid_id for a path id that cannot be decoded', async () => {
    expectError(await inject({ method: 'GET', url: '/api/sessions/%E0%A4%A' }), 400, 'invalid_id');
  });
});

describe('non-JSON bodies', () => {
  it.each(sessionRoutes('s1'))('answer 415 on $method $url, and change nothing', async ({ method, url }) => {
    await connected('s1');
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/octet-stream']) {
      expectError(await inject({ method, url, headers: { 'content-type': type }, payload: 'session_id=s1' }), 415, 'unsupported_media_type');
    }
    expect(manager.get('s1').status).toBe('connected');
    expect(driver.clientsOf('s1')).toHaveLength(1);
  });

  describe('over real HTTP', () => {
    let base: string;
    beforeEach(async () => {
      await app.listen({ port: 0, host: '127.0.0.1' });
      base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    });

    /** One request on a fresh connection; what came back, or the error when the connection closed without an answer. */
    const send = (method: string, path: string, type: string, body: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const headers = { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), 'x-api-key': KEY };
        const request = http.request(`${base}${path}`, { method, agent: false, headers }, (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        });
        request.on('error', reject);
        request.end(body);
      });

    it.each(['DELETE', 'POST', 'GET'])('%s with a text/plain body answers 415, never a closed connection', async (method) => {
      await connected('s1');
      const path = method === 'POST' ? '/api/sessions/s1/reconnect' : '/api/sessions/s1';
      const answer = await send(method, path, 'text/plain', 'stop it');
      expect(answer.status).toBe(415);
      expect(JSON.parse(answer.body)).toEqual({ error: { code: 'unsupported_media_type', message: expect.any(String) } });
      expect(manager.get('s1').status).toBe('connected');
    });
  });
});

describe('failed authentications', () => {
  let now = 1_000_000;
  const clock = () => now;

  beforeEach(async () => {
    await h.close();
    now = 1_000_000;
    h = await apiHarness({}, { authThrottle: { maxFailures: 10, windowMs: 60_000, now: clock } });
    ({ driver, manager, app } = h);
  });

  const attempt = (key: string, remoteAddress = '203.0.113.7') =>
    app.inject({ method: 'GET', url: '/api/sessions', headers: { 'x-api-key': key }, remoteAddress });

  it('are throttled per address: 429 too_many_requests with Retry-After, the right key included, until the window ends', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await attempt(`wrong-key-${i}`)).statusCode);
    expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);

    now += 15_000;
    const refused = await attempt(KEY);
    expectError({ status: refused.statusCode, json: refused.json() }, 429, 'too_many_requests');
    expect(refused.headers['retry-after']).toBe('45');
    expect((await attempt(KEY, '203.0.113.8')).statusCode).toBe(200);

    now += 45_000;
    expect((await attempt(KEY)).statusCode).toBe(200);
    expect((await attempt('wrong-again')).statusCode).toBe(401);
  });

  it('are logged at warn once per window per address, without the key', async () => {
    for (let i = 0; i < 30; i++) await attempt(`guess-${i}-0123456789`);
    now += 60_000;
    for (let i = 0; i < 10; i++) await attempt(`guess-${i}-0123456789`);
    const warnings = (await h.log()).split('\n').filter((line) => line.includes('"level":"warn"'));
    expect(warnings).toHaveLength(2);
    for (const line of warnings) {
      expect(JSON.parse(line)).toMatchObject({ message: 'Failed API key attempts: address throttled', address: '203.0.113.7', retryAfterSec: 60 });
      expect(line).not.toContain('guess-');
    }
  });

  it('60 wrong keys in a row over real HTTP get 10 answers of 401, then 429', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/sessions`;
    const counts: Record<number, number> = {};
    for (let i = 0; i < 60; i++) {
      const response = await fetch(url, { headers: { 'x-api-key': `wrong-${i}` } });
      await response.arrayBuffer();
      counts[response.status] = (counts[response.status] ?? 0) + 1;
    }
    expect(counts).toEqual({ 401: 10, 429: 50 });
  });
});
