import { waitFor } from './helpers';
import { apiHarness, type ApiHarness } from './session-harness';

// GET /api/sessions/:id/events and the view's history fields, through the worker's Fastify app
// (inject) over the manager with the fake driver, the history wired as the service wires it.
jest.setTimeout(20_000);

describe('the history over HTTP', () => {
  let h: ApiHarness;
  beforeEach(async () => {
    h = await apiHarness({}, { history: true });
  });
  afterEach(async () => {
    await h.close();
  });

  it('lists the status changes, filters by since, and answers 404 for an unknown session and 400 for a bad since', async () => {
    await h.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
    const client = await waitFor(() => h.driver.clientsOf('s1')[0], 'the client of s1', 5000);
    client.emit.ready('628111');
    await waitFor(() => h.manager.get('s1').status === 'connected' || undefined, 's1 connected', 5000);
    client.emit.message({ id: 'm1', from: 'a', to: 'b', body: 'hi', type: 'chat', timestamp: 1 });

    const all = await h.api('GET', '/api/sessions/s1/events');
    expect(all.status).toBe(200);
    expect(all.json.events.map((e: { from: string | null; to: string }) => `${e.from}->${e.to}`)).toEqual([
      'null->initializing',
      'initializing->connected',
    ]);
    for (const event of all.json.events) expect(Object.keys(event).sort()).toEqual(['at', 'from', 'reason', 'to']);
    const last = all.json.events[1].at as string;
    const since = (await h.api('GET', `/api/sessions/s1/events?since=${encodeURIComponent(last)}`)).json.events as Array<{ at: string; to: string }>;
    expect(since.at(-1)).toEqual(all.json.events[1]);
    expect(since.every((e) => Date.parse(e.at) >= Date.parse(last))).toBe(true);
    expect((await h.api('GET', '/api/sessions/s1/events?since=1970-01-01T00:00:00Z')).json.events).toEqual(all.json.events);
    expect((await h.api('GET', '/api/sessions/s1/events?since=2999-01-01')).json.events).toEqual([]);
    for (const bad of ['yesterday', '1', '2026-13-45T99:99:99Z']) {
      const answer = await h.api('GET', `/api/sessions/s1/events?since=${bad}`);
      expect([answer.status, answer.json.error.code]).toEqual([400, 'invalid_request']);
    }
    const unknown = await h.api('GET', '/api/sessions/nope/events');
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'session_not_found']);
    expect((await h.api('GET', '/api/sessions/s1/events', undefined, null)).status).toBe(401);

    const view = (await h.api('GET', '/api/sessions/s1')).json;
    expect(view).toMatchObject({ messages_24h: 1, last_message_at: expect.any(String) });
    expect(view.uptime_24h).toBeGreaterThanOrEqual(0);
    expect(view.uptime_24h).toBeLessThanOrEqual(1);
    expect((await h.api('GET', '/api/sessions')).json.sessions[0]).toMatchObject({ messages_24h: 1 });
  });

  it('is documented at /docs with its schema', async () => {
    const spec = (await h.api('GET', '/docs/json', undefined, null)).json;
    const route = spec.paths['/api/sessions/{session_id}/events'].get;
    expect(route.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['session_id', 'since']));
    const schema = route.responses['200'].content['application/json'].schema;
    expect(Object.keys(schema.properties.events.items.properties).sort()).toEqual(['at', 'from', 'reason', 'to']);
  });
});
