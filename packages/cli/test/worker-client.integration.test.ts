import type { Socket } from 'node:net';
import { startLocalServer, type LocalServer } from '@wa-session-sync/test-support';
import { WorkerClient } from '../src/worker-client';

// A worker stand-in that closes every kept-alive connection at its second request without
// answering: what a request sent just as the worker's keep-alive timeout fires looks like.
let server: LocalServer;
let baseUrl: string;
const requestsBySocket = new Map<Socket, number>();
const dropped: string[] = [];

beforeAll(async () => {
  server = await startLocalServer((request, response) => {
    const count = (requestsBySocket.get(request.socket) ?? 0) + 1;
    requestsBySocket.set(request.socket, count);
    if (count > 1) {
      dropped.push(`${request.method} ${request.url}`);
      request.socket.destroy();
      return;
    }
    response.setHeader('content-type', 'application/json');
    if (request.url === '/health') {
      response.end(JSON.stringify({ status: 'ok', uptime: 5, sessions: { total: 1, connected: 1, by_status: { connected: 1 } }, memory: {}, version: 't' }));
    } else if (request.url === '/api/sessions') {
      if (request.method === 'POST') {
        response.statusCode = 201;
        response.end(JSON.stringify({ session_id: 's1', workspace_id: '1', status: 'initializing', phone_number: null, updated_at: new Date().toISOString() }));
      } else {
        response.end(JSON.stringify({ sessions: [{ session_id: 's1', workspace_id: '1', status: 'connected', phone_number: '62811', updated_at: new Date().toISOString() }] }));
      }
    } else {
      response.statusCode = 404;
      response.end('{}');
    }
  });
  baseUrl = server.url;
});

afterAll(async () => {
  await server.close();
});

test('a request on a kept-alive connection the worker has just closed is sent again on a fresh one', async () => {
  const client = new WorkerClient({ baseUrl, apiKey: 'k', timeoutMs: 5_000, concurrency: 1 });
  try {
    expect(await client.health()).toMatchObject({ uptime: 5, total: 1, connected: 1 });
    const snapshot = await client.sessions(undefined);
    expect(snapshot.sessions.map((session) => session.session_id)).toEqual(['s1']);
    expect(await client.send({ kind: 'start', session_id: 's1', workspace_id: '1' })).toEqual({ ok: true, status: 'initializing' });
  } finally {
    await client.close();
  }
  // The stand-in really dropped reused connections (which ones is undici's choice): retries were needed.
  expect(dropped.length).toBeGreaterThan(0);
});
