import { subscribeToSessionChanges } from '../src/routes/dashboard-events';
import { apiHarness, API_HARNESS_KEY, type ApiHarness } from './session-harness';

// POST /api/sessions/:session_id/pairing-code over the fake driver, through Fastify's inject (host
// localhost:80). The real library against the simulator: pairing-code.integration.test.ts.
jest.setTimeout(20_000);

const OWN_ORIGIN = 'http://localhost:80';

describe('POST /api/sessions/:session_id/pairing-code', () => {
  let h: ApiHarness;
  beforeEach(async () => {
    h = await apiHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  /** Starts `id` and lets its fake client show a QR. */
  const scanning = async (id: string) => {
    expect((await h.api('POST', '/api/sessions', { session_id: id, workspace_id: 'w1' })).status).toBe(201);
    const client = await h.client(id);
    client.emit.qr(`qr-of-${id}`);
    expect((await h.api('GET', `/api/sessions/${id}`)).json.status).toBe('qr_scanning');
    return client;
  };

  it('answers the code for the digits of the number (a leading + dropped), shows it on the session and its refreshes, never as a webhook', async () => {
    const client = await scanning('s1');
    client.onPairingCode = async () => 'K7QX2M9P';
    const answer = await h.api('POST', '/api/sessions/s1/pairing-code', { phone_number: '+6281234567890' });
    expect(answer).toMatchObject({ status: 200, json: { code: 'K7QX2M9P' } });
    expect(client.pairingRequests).toEqual(['6281234567890']);
    expect((await h.api('GET', '/api/sessions/s1')).json).toMatchObject({ status: 'qr_scanning', pairing_code: 'K7QX2M9P', qr: 'qr-of-s1' });

    // WhatsApp Web refreshes the code while it waits: the session shows the new one, and the bus says so.
    client.emit.code('ZZ3Y4W5V');
    expect((await h.api('GET', '/api/sessions')).json.sessions[0].pairing_code).toBe('ZZ3Y4W5V');
    expect(h.busEvents.filter((e) => e.type === 'code').map((e) => (e as { code: string }).code)).toEqual(['K7QX2M9P', 'ZZ3Y4W5V']);
    expect(h.events.map((e) => e.event)).not.toContain('session.code');
    expect(JSON.stringify(h.events)).not.toContain('K7QX2M9P');

    // Once paired, the code is gone from the session.
    client.emit.authenticated();
    client.emit.ready('6281234567890');
    expect((await h.api('GET', '/api/sessions/s1')).json).toMatchObject({ status: 'connected', pairing_code: null, phone_number: '6281234567890' });
    // A refresh arriving late is not shown.
    client.emit.code('LATE2345');
    expect((await h.api('GET', '/api/sessions/s1')).json.pairing_code).toBeNull();
  });

  it("sends the dashboard's list again when WhatsApp Web refreshes the code (no status change)", async () => {
    const client = await scanning('s1');
    let sends = 0;
    const unsubscribe = subscribeToSessionChanges(h.bus, () => sends++);
    client.emit.code('ZZ3Y4W5V');
    unsubscribe();
    expect(sends).toBe(1);
  });

  it('answers 400 invalid_request for a bad or missing number, asking WhatsApp nothing', async () => {
    const client = await scanning('s1');
    for (const body of [{ phone_number: '1234' }, { phone_number: '62 812 3456' }, { phone_number: '+62-8123456' }, { phone_number: 'abcdefgh' }, { phone_number: null }, {}]) {
      const answer = await h.api('POST', '/api/sessions/s1/pairing-code', body);
      expect([body, answer.status, answer.json.error.code]).toEqual([body, 400, 'invalid_request']);
    }
    expect(client.pairingRequests).toEqual([]);
    expect((await h.api('GET', '/api/sessions/s1')).json.pairing_code).toBeNull();
  });

  it('answers 409 not_pairing for a session not waiting to be paired, 404 for an unknown one', async () => {
    expect((await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' })).status).toBe(201);
    const client = await h.client('s1');
    const initializing = await h.api('POST', '/api/sessions/s1/pairing-code', { phone_number: '6281234567890' });
    expect(initializing).toMatchObject({ status: 409, json: { error: { code: 'not_pairing', message: expect.stringContaining('initializing') } } });
    client.emit.ready('6281234567890');
    const connected = await h.api('POST', '/api/sessions/s1/pairing-code', { phone_number: '6281234567890' });
    expect(connected).toMatchObject({ status: 409, json: { error: { code: 'not_pairing', message: expect.stringContaining('connected') } } });
    expect(client.pairingRequests).toEqual([]);
    const unknown = await h.api('POST', '/api/sessions/nope/pairing-code', { phone_number: '6281234567890' });
    expect(unknown).toMatchObject({ status: 404, json: { error: { code: 'session_not_found' } } });
  });

  it('answers 409 not_pairing when the session is paired while WhatsApp Web makes the code', async () => {
    const client = await scanning('s1');
    client.onPairingCode = async () => {
      client.emit.authenticated();
      throw new Error('Execution context was destroyed');
    };
    const answer = await h.api('POST', '/api/sessions/s1/pairing-code', { phone_number: '6281234567890' });
    expect(answer).toMatchObject({ status: 409, json: { error: { code: 'not_pairing', message: expect.stringContaining('authenticated') } } });
  });

  it('needs the key, or the dashboard cookie with the worker\'s own Origin', async () => {
    const client = await scanning('s1');
    const body = { phone_number: '6281234567890' };
    expect((await h.api('POST', '/api/sessions/s1/pairing-code', body, null)).status).toBe(401);
    const signIn = await h.app.inject({
      method: 'POST',
      url: '/dashboard/sign-in',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: OWN_ORIGIN },
      payload: new URLSearchParams({ key: API_HARNESS_KEY }).toString(),
    });
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    const byCookie = (origin: string) => h.app.inject({ method: 'POST', url: '/api/sessions/s1/pairing-code', headers: { cookie, origin }, payload: body });
    expect((await byCookie('http://localhost:8080')).statusCode).toBe(403);
    expect(client.pairingRequests).toEqual([]);
    const own = await byCookie(OWN_ORIGIN);
    expect([own.statusCode, own.json()]).toEqual([200, { code: 'ABCDEFGH' }]);
  });

  it('is documented at /docs with its body, answer and errors', async () => {
    const spec = (await h.api('GET', '/docs/json', undefined, null)).json;
    const route = spec.paths['/api/sessions/{session_id}/pairing-code'].post;
    expect(route.requestBody.content['application/json'].schema.properties.phone_number).toMatchObject({ type: 'string', pattern: expect.any(String) });
    expect(route.responses['200'].content['application/json'].schema.properties.code).toMatchObject({ type: 'string' });
    expect(Object.keys(route.responses)).toEqual(expect.arrayContaining(['400', '404', '409']));
  });
});
