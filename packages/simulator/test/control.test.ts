import { startSimulator, type Simulator } from '../src';
import { control } from './support';

// The HTTP control API's answers to bad requests, over real HTTPS (no browser needed for these).
let simulator: Simulator;

beforeAll(async () => {
  simulator = await startSimulator();
});

afterAll(async () => {
  await simulator?.stop();
});

describe('HTTP control API', () => {
  it('lists no pages and no outbound messages on a fresh simulator', async () => {
    expect(await control(simulator, 'GET', '/control/pages')).toMatchObject({ status: 200, body: { pages: [] } });
    expect(await control(simulator, 'GET', '/control/outbound')).toMatchObject({ status: 200, body: { outbound: [] } });
  });

  it.each([
    ['a scan of a QR no page shows', '/control/scan', { qr: '2@nothing,a,b,c,d', phone: '628111' }, 404, 'NO_PAGE_FOR_QR'],
    ['a message to an unknown phone', '/control/message', { phone: '628000', from: '628111', body: 'hi' }, 404, 'UNKNOWN_PHONE'],
    ['a state change of an unknown phone', '/control/state', { phone: '628000', state: 'CONFLICT' }, 404, 'UNKNOWN_PHONE'],
    ['a logout of a phone never linked', '/control/logout', { phone: '628000' }, 404, 'UNKNOWN_PHONE'],
    ['a hang of an unknown phone', '/control/hang', { phone: '628000' }, 404, 'UNKNOWN_PHONE'],
    ['a phone that is not digits', '/control/message', { phone: '+62 812', from: '628111', body: 'hi' }, 400, 'INVALID_ARGUMENT'],
    ['a missing qr', '/control/scan', { phone: '628111' }, 400, 'INVALID_ARGUMENT'],
    ['a body that is not JSON', '/control/logout', '{"phone":', 400, 'INVALID_ARGUMENT'],
    ['a body that is a JSON array', '/control/logout', '[]', 400, 'INVALID_ARGUMENT'],
    ['an unknown operation', '/control/reboot', {}, 404, 'NOT_FOUND'],
  ])('answers %s with a JSON error', async (_what, pathname, body, status, code) => {
    const answer = await control(simulator, 'POST', pathname, body);
    expect(answer.status).toBe(status);
    expect(answer.contentType).toMatch(/^application\/json/);
    expect(answer.body).toEqual({ error: { code, message: expect.any(String) } });
  });

  it('answers a GET of an operation that needs POST with 405', async () => {
    const answer = await control(simulator, 'GET', '/control/scan');
    expect(answer).toMatchObject({ status: 405, body: { error: { code: 'METHOD_NOT_ALLOWED' } } });
  });

  it('serves the simulated page and its script', async () => {
    const page = await fetchText(simulator, '/');
    expect(page).toContain('<script src="/sim/page.js"></script>');
    expect(await fetchText(simulator, '/sim/page.js')).toContain("window.Debug = { VERSION:");
  });
});

async function fetchText(sim: Simulator, pathname: string): Promise<string> {
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    https
      .get(new URL(pathname, sim.controlUrl), { ca: sim.certificate }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}
