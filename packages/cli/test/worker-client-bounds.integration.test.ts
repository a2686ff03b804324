import { startLocalServer, type LocalServer } from '@wa-session-sync/test-support';
import { MAX_ANSWER_BYTES, WorkerClient } from '../src/worker-client';

// The worker client's bounds in bytes and time, against a real HTTP server (the CLI's process
// tests in bounds.integration.test.ts prove the same through the installed command).
let server: LocalServer;
let received: string[] = [];

const view = (i: number) => ({ session_id: `s${i}`, workspace_id: '1', status: 'connected', phone_number: null, updated_at: '2026-01-01T00:00:00.000Z' });

beforeAll(async () => {
  server = await startLocalServer((request, response) => {
    received.push(`${request.method} ${request.url}`);
    response.setHeader('content-type', 'application/json');
    if (request.url === '/api/sessions') {
      // 2,000 sessions, ~190 KB: more than the test's bound of 100 KB.
      return void response.end(JSON.stringify({ sessions: Array.from({ length: 2_000 }, (_, i) => view(i)) }));
    }
    if (request.url === '/api/sessions/big/reconnect') {
      response.statusCode = 500;
      return void response.end(JSON.stringify({ error: { code: 'internal', message: 'x'.repeat(MAX_ANSWER_BYTES) } }));
    }
    response.statusCode = 202;
    response.end('{"status":"reconnecting"}');
  });
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  received = [];
});

test('refuses a session list over its bound, and reads one within it', async () => {
  const small = new WorkerClient({ baseUrl: server.url, apiKey: 'k', timeoutMs: 5_000, concurrency: 1, maxSessionListBytes: 100_000 });
  const roomy = new WorkerClient({ baseUrl: server.url, apiKey: 'k', timeoutMs: 5_000, concurrency: 1, maxSessionListBytes: 1_000_000 });
  try {
    await expect(small.sessions(undefined)).rejects.toThrow(`cannot read the worker sessions: ${server.url}/api/sessions answered more than 100000 bytes; refused unread`);
    expect((await roomy.sessions(undefined)).sessions).toHaveLength(2_000);
  } finally {
    await Promise.all([small.close(), roomy.close()]);
  }
});

test('a start/reconnect answer over 1 MiB is a failed request, never read whole', async () => {
  const client = new WorkerClient({ baseUrl: server.url, apiKey: 'k', timeoutMs: 5_000, concurrency: 1 });
  try {
    expect(await client.send({ kind: 'reconnect', session_id: 'big', workspace_id: '1' })).toEqual({
      ok: false,
      error: 'answered more than 1 MiB; refused unread',
    });
  } finally {
    await client.close();
  }
});

test('sends nothing once the run deadline has passed', async () => {
  const client = new WorkerClient({ baseUrl: server.url, apiKey: 'k', timeoutMs: 5_000, concurrency: 1, deadline: Date.now() - 1 });
  try {
    expect(await client.requestAll([{ kind: 'reconnect', session_id: 'late', workspace_id: '1' }])).toEqual([
      { ok: false, error: 'was not sent: the run deadline (WA_SYNC_RUN_TIMEOUT_SECONDS) had passed' },
    ]);
    expect(received).toEqual([]);
  } finally {
    await client.close();
  }
});
