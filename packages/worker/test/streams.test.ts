import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@wa-session-sync/test-support';
import { apiHarness, type ApiHarness } from './session-harness';

/** The server's idle and request timeouts in these tests: the stream stays quiet for three of them. */
const TIMEOUT_MS = 200;
const QUIET_MS = 3 * TIMEOUT_MS;

/** One GET over real HTTP: the body read, and whether the response ended (false: the connection was cut). */
function get(port: number, path: string): Promise<{ body: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ body, complete: response.complete }));
      response.on('error', () => resolve({ body, complete: false }));
      response.on('aborted', () => resolve({ body, complete: false }));
    });
    request.on('error', reject);
  });
}

/** A route (only in this test) that sends one line, stays quiet for {@link QUIET_MS}, then sends another and ends. */
function quietStream(h: ApiHarness, path: string, stream: boolean): void {
  h.app.get(path, { config: { stream } }, (_request, reply) => {
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
    reply.raw.write('data: first\n\n');
    const timer = setTimeout(() => reply.raw.end('data: second\n\n'), QUIET_MS);
    reply.raw.on('close', () => clearTimeout(timer));
    return reply.hijack();
  });
}

describe('streams and the request timeout', () => {
  let h: ApiHarness;
  afterEach(async () => h?.close());

  async function listen(): Promise<number> {
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    return (h.app.server.address() as AddressInfo).port;
  }

  it('does not cut a route marked as a stream that stays quiet longer than the timeout', async () => {
    h = await apiHarness({}, { timeoutMs: TIMEOUT_MS });
    quietStream(h, '/test/stream', true);
    const port = await listen();
    await expect(get(port, '/test/stream')).resolves.toEqual({ body: 'data: first\n\ndata: second\n\n', complete: true });
  });

  it('still cuts an ordinary route quiet for as long (the timeout is in force)', async () => {
    h = await apiHarness({}, { timeoutMs: TIMEOUT_MS });
    quietStream(h, '/test/not-a-stream', false);
    const port = await listen();
    await expect(get(port, '/test/not-a-stream')).resolves.toEqual({ body: 'data: first\n\n', complete: false });
  });

  it('ends the open streams when the app closes, so that closing does not wait for them', async () => {
    h = await apiHarness();
    let opened = false;
    h.app.get('/test/endless', { config: { stream: true } }, (_request, reply) => {
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      reply.raw.write('data: hello\n\n');
      opened = true;
      return reply.hijack();
    });
    const port = await listen();
    const response = get(port, '/test/endless');
    await waitFor(() => opened, 'the stream opened', 2000);
    const started = Date.now();
    await h.app.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(response).resolves.toEqual({ body: 'data: hello\n\n', complete: true });
  });
});
