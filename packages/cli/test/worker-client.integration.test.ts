import type { Socket } from 'node:net';
import { startLocalServer, type LocalServer } from '@wa-session-sync/test-support';
import { WorkerClient } from '../src/worker-client';

// A worker stand-in that closes every kept-alive connection at its second request without
// answering: what a request sent just as the worker's keep-alive timeout fires looks like.
// It also drops every connection of a reconnect of the session `drop-me`, at its first request.
let server: LocalServer;
let baseUrl: string;
const requestsBySocket = new Map<Socket, number>();
const dropped: string[] = [];
const received: string[] = [];

beforeAll(async () => {
  server = await startLocalServer((request, response) => {
    const count = (requestsBySocket.get(request.socket) ?? 0) + 1;
    requestsBySocket.set(request.socket, count);
    received.push(`${request.method} ${request.url} #${count}`);
    if (count > 1 || request.url === '/api/sessions/drop-me/reconnect') {
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
    } else if (request.url === '/api/sessions/s1/reconnect' && request.method === 'POST') {
      response.statusCode = 202;
      response.end(JSON.stringify({ session_id: 's1', status: 'reconnecting' }));
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
  // The stand-in really dropped reused connections (which ones is the agent's choice): retries were needed.
  expect(dropped.length).toBeGreaterThan(0);
});

describe('a reconnect (not idempotent)', () => {
  beforeEach(() => {
    received.length = 0;
  });

  it('gets a connection of its own, never a kept-alive one that may be closing', async () => {
    const client = new WorkerClient({ baseUrl, apiKey: 'k', timeoutMs: 5_000, concurrency: 1 });
    try {
      await client.health(); // leaves a kept-alive connection the reconnects could have reused
      expect(await client.send({ kind: 'reconnect', session_id: 's1', workspace_id: '1' })).toEqual({ ok: true, status: 'reconnecting' });
      expect(await client.send({ kind: 'reconnect', session_id: 's1', workspace_id: '1' })).toEqual({ ok: true, status: 'reconnecting' });
    } finally {
      await client.close();
    }
    expect(received).toEqual(['GET /health #1', 'POST /api/sessions/s1/reconnect #1', 'POST /api/sessions/s1/reconnect #1']);
  });

  it('is never sent twice: a reset connection is a failed reconnect, said plainly', async () => {
    const client = new WorkerClient({ baseUrl, apiKey: 'k', timeoutMs: 5_000, concurrency: 1 });
    try {
      expect(await client.send({ kind: 'reconnect', session_id: 'drop-me', workspace_id: '1' })).toEqual({
        ok: false,
        error: 'the connection was reset before the worker answered (ECONNRESET); not sent again: a reconnect is not idempotent',
      });
    } finally {
      await client.close();
    }
    expect(received).toEqual(['POST /api/sessions/drop-me/reconnect #1']);
  });
});

test('a start whose kept-alive connection was closed is sent again once, on a new connection', async () => {
  received.length = 0;
  const client = new WorkerClient({ baseUrl, apiKey: 'k', timeoutMs: 5_000, concurrency: 1 });
  try {
    await client.health();
    expect(await client.send({ kind: 'start', session_id: 's1', workspace_id: '1' })).toEqual({ ok: true, status: 'initializing' });
  } finally {
    await client.close();
  }
  expect(received).toEqual(['GET /health #1', 'POST /api/sessions #2', 'POST /api/sessions #1']);
});
