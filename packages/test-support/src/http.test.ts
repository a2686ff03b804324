import { freePort, readBody, startLocalServer } from './http';

describe('startLocalServer', () => {
  it('answers on 127.0.0.1 and closes even with a kept-alive connection open', async () => {
    const server = await startLocalServer(async (request, response) => response.end(`got ${await readBody(request)}`));
    const answer = await fetch(server.url, { method: 'POST', body: 'ping', keepalive: true });
    expect(await answer.text()).toBe('got ping');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    await server.close();
    await expect(fetch(server.url)).rejects.toThrow();
  });
});

describe('freePort', () => {
  it('gives a port nothing listens on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });
});
