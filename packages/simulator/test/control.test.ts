import https from 'node:https';
import { waitFor } from '@wa-session-sync/test-support';
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
  it('lists no pages, no outbound messages and no double logins on a fresh simulator', async () => {
    expect(await control(simulator, 'GET', '/control/pages')).toMatchObject({ status: 200, body: { pages: [] } });
    expect(await control(simulator, 'GET', '/control/outbound')).toMatchObject({ status: 200, body: { outbound: [] } });
    expect(await control(simulator, 'GET', '/control/double-logins')).toMatchObject({ status: 200, body: { doubleLogins: [] } });
  });

  it('POST /control/pairing-code links the page that asked for the code, for that phone only', async () => {
    const phone = '6281300000001';
    const page = await openPage(simulator, 'code-page');
    try {
      const issued = await control(simulator, 'POST', '/sim/pairing-code', { page: 'code-page', phone });
      expect(issued).toMatchObject({ status: 200, body: { code: expect.stringMatching(/^[1-9A-HJ-NP-TV-Z]{8}$/) } });
      const code: string = issued.body.code;
      expect((await control(simulator, 'GET', '/control/pages')).body.pages).toEqual([
        expect.objectContaining({ id: 'code-page', pairingCode: code, pairingPhone: phone, phone: null }),
      ]);

      expect(await control(simulator, 'POST', '/control/pairing-code', { code, phone: '6281399999999' })).toMatchObject({
        status: 403,
        body: { error: { code: 'WRONG_PHONE' } },
      });
      expect(await control(simulator, 'POST', '/control/pairing-code', { code: `${code.slice(0, 4)}-${code.slice(4)}`, phone })).toMatchObject({
        status: 200,
        body: { ok: true },
      });
      const paired = await waitFor(() => page.events.find((event) => event.event === 'paired'), 'the paired event on the page');
      expect(paired.data).toMatchObject({ phone, device: expect.any(String) });
      expect(await control(simulator, 'POST', '/control/pairing-code', { code, phone })).toMatchObject({
        status: 404,
        body: { error: { code: 'NO_PAGE_FOR_CODE' } },
      });
    } finally {
      page.close();
    }
  });

  it('GET /control/double-logins lists a page connecting while another of its phone is, and the older page gets CONFLICT', async () => {
    const phone = '6281300000002';
    const restored = { device: 'device-1', phone };
    const older = await openPage(simulator, 'older', restored);
    const newer = await openPage(simulator, 'newer', restored);
    try {
      await control(simulator, 'POST', '/sim/report', { page: 'older', state: 'CONNECTED' });
      expect((await control(simulator, 'GET', '/control/double-logins')).body).toEqual({ doubleLogins: [] });
      await control(simulator, 'POST', '/sim/report', { page: 'newer', state: 'CONNECTED' });
      expect((await control(simulator, 'GET', '/control/double-logins')).body).toEqual({
        doubleLogins: [{ phone, at: expect.any(String), newPage: 'newer', oldPages: ['older'] }],
      });
      await waitFor(() => older.events.some((event) => event.event === 'state' && event.data.state === 'CONFLICT'), 'CONFLICT on the older page');
      expect(newer.events.map((event) => event.event)).toEqual(['hello']);
    } finally {
      older.close();
      newer.close();
    }
  });

  it.each([
    ['a code no page shows', '/control/pairing-code', { code: 'ABCD-EFGH', phone: '628111' }, 404, 'NO_PAGE_FOR_CODE'],
    ['a code outside WhatsApp\'s alphabet', '/control/pairing-code', { code: 'ABCD-EFG0', phone: '628111' }, 400, 'INVALID_ARGUMENT'],
    ['a code request with no phone', '/control/pairing-code', { code: 'ABCD-EFGH' }, 400, 'INVALID_ARGUMENT'],
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

/**
 * A page without a browser: the event stream a page opens (GET /sim/events) and the events the
 * simulator pushed down it, for the control routes that need an open page.
 */
async function openPage(sim: Simulator, id: string, restored?: { device: string; phone: string }) {
  const events: Array<{ event: string; data: any }> = [];
  const query = new URLSearchParams({ page: id, device: restored?.device ?? '', phone: restored?.phone ?? '' });
  const request = https.get(new URL(`/sim/events?${query}`, sim.controlUrl), { ca: sim.certificate }, (response) => {
    let buffer = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
      }
    });
  });
  request.on('error', () => {}); // close() destroys it on purpose
  await waitFor(() => events.some((event) => event.event === 'hello'), `the hello event on page ${id}`, 5_000);
  return { events, close: () => request.destroy() };
}
