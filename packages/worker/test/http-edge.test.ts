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
