import { WhatsAppSimulator, type PageChannel } from './simulator';

/** A page channel that records what the simulator pushed, in place of a browser. */
function recordingChannel() {
  const sent: Array<{ event: string; data: any }> = [];
  const channel: PageChannel & { sent: typeof sent; closed: boolean } = {
    sent,
    closed: false,
    send: (event, data) => void sent.push({ event, data }),
    close: () => void (channel.closed = true),
  };
  return channel;
}

const QR = '2@ref1,STATIC,IDENTITY,ADV,CHROME';

/** A simulator with one new page showing QR, then paired as `phone`; returns the device it linked. */
function pairedSimulator(phone = '6281234567890') {
  const simulator = new WhatsAppSimulator();
  const channel = recordingChannel();
  simulator.attachPage('page-1', null, channel);
  simulator.applyReport('page-1', { ref: '2@ref1', qr: QR, state: 'UNPAIRED' });
  simulator.scan(QR, phone);
  const device: string = channel.sent.find((s) => s.event === 'paired')!.data.device;
  return { simulator, channel, device, phone };
}

describe('WhatsAppSimulator', () => {
  it('tells a new page to show a QR and a restored page to connect', () => {
    const simulator = new WhatsAppSimulator();
    const fresh = recordingChannel();
    const restored = recordingChannel();
    simulator.attachPage('a', null, fresh);
    simulator.attachPage('b', { device: 'dev-1', phone: '628111' }, restored);
    expect(fresh.sent).toEqual([{ event: 'hello', data: { restore: 'none' } }]);
    expect(restored.sent).toEqual([{ event: 'hello', data: { restore: 'connect' } }]);
    expect(simulator.pages().map((p) => [p.id, p.phone])).toEqual([
      ['a', null],
      ['b', '628111'],
    ]);
  });

  it('pairs the page showing the scanned ref, by full QR or by ref alone', () => {
    const { simulator, channel, phone } = pairedSimulator();
    expect(channel.sent[1]).toEqual({
      event: 'paired',
      data: expect.objectContaining({ phone, device: expect.any(String) }),
    });
    expect(simulator.pages()[0]).toMatchObject({ phone, ref: null, qr: null });

    const other = recordingChannel();
    simulator.attachPage('page-2', null, other);
    simulator.applyReport('page-2', { ref: '2@ref2', qr: '2@ref2,S,I,A,CHROME' });
    simulator.scan('2@ref2', '628999');
    expect(other.sent.map((s) => s.event)).toEqual(['hello', 'paired']);
  });

  it('refuses a scan of a QR no page shows, and changes nothing', () => {
    const simulator = new WhatsAppSimulator();
    simulator.attachPage('a', null, recordingChannel());
    simulator.applyReport('a', { ref: '2@shown' });
    expect(() => simulator.scan('2@other,x,y,z,w', '628111')).toThrow(
      expect.objectContaining({ code: 'NO_PAGE_FOR_QR' }),
    );
    expect(simulator.pages()[0]).toMatchObject({ ref: '2@shown', phone: null });
  });

  it('refuses operations on a phone with no open page', () => {
    const simulator = new WhatsAppSimulator();
    const unknown = expect.objectContaining({ code: 'UNKNOWN_PHONE' });
    expect(() => simulator.sendMessage('628000', '628111', 'hi')).toThrow(unknown);
    expect(() => simulator.setState('628000', 'CONFLICT')).toThrow(unknown);
    expect(() => simulator.hang('628000')).toThrow(unknown);
    expect(() => simulator.logout('628000')).toThrow(unknown);
  });

  it('refuses a state outside the settable list', () => {
    const { simulator, channel, phone } = pairedSimulator();
    expect(() => simulator.setState(phone, 'UNPAIRED_IDLE' as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(channel.sent.map((s) => s.event)).toEqual(['hello', 'paired']);
  });

  it('sends an incoming message with a fresh id and the sender as a wid', () => {
    const { simulator, channel, phone } = pairedSimulator();
    const id = simulator.sendMessage(phone, '628111', 'halo');
    expect(channel.sent.at(-1)).toEqual({
      event: 'message',
      data: { id, from: '628111@c.us', body: 'halo', t: expect.any(Number) },
    });
    expect(simulator.sendMessage(phone, '628111', 'lagi')).not.toBe(id);
  });

  it('logs out open pages, and refuses the device later when it was closed at logout time', () => {
    const { simulator, channel, device, phone } = pairedSimulator();
    simulator.detachPage('page-1');
    simulator.logout(phone);
    expect(channel.sent.map((s) => s.event)).toEqual(['hello', 'paired']);

    const restored = recordingChannel();
    simulator.attachPage('page-2', { device, phone }, restored);
    expect(restored.sent).toEqual([{ event: 'hello', data: { restore: 'revoked' } }]);
    expect(simulator.pages()[0]!.phone).toBeNull();
  });

  it('sends logout to an open page of the phone', () => {
    const { simulator, channel, phone } = pairedSimulator();
    simulator.logout(phone);
    expect(channel.sent.at(-1)).toEqual({ event: 'logout', data: {} });
  });

  it('aims at the newest page of a phone that is not hung', () => {
    const { simulator, channel, device, phone } = pairedSimulator();
    simulator.hang(phone);
    expect(channel.sent.at(-1)!.event).toBe('hang');
    expect(simulator.pages()[0]!.hung).toBe(false); // not before the page confirms
    simulator.applyReport('page-1', { hung: true });
    expect(simulator.pages()[0]!.hung).toBe(true);
    const reloaded = recordingChannel();
    simulator.attachPage('page-2', { device, phone }, reloaded);
    simulator.sendMessage(phone, '628111', 'after reload');
    expect(reloaded.sent.at(-1)!.event).toBe('message');
    expect(channel.sent.at(-1)!.event).toBe('hang');
  });

  it('records outbound messages with the sending phone', () => {
    const { simulator, phone } = pairedSimulator();
    const seen: unknown[] = [];
    simulator.on('outbound', (m) => seen.push(m));
    simulator.recordOutbound('page-1', { to: '628222@c.us', body: 'balik', id: 'ABC' });
    expect(simulator.outbound).toEqual([{ from: phone, to: '628222@c.us', body: 'balik', id: 'ABC' }]);
    expect(seen).toEqual(simulator.outbound);
  });

  it('waits for a page that matches, and times out with TIMEOUT otherwise', async () => {
    const simulator = new WhatsAppSimulator();
    const waiting = simulator.waitForPage({ qr: '2@later,S,I,A,CHROME' }, 5_000);
    simulator.attachPage('a', null, recordingChannel());
    simulator.applyReport('a', { ref: '2@later', state: 'UNPAIRED' });
    await expect(waiting).resolves.toMatchObject({ id: 'a', ref: '2@later' });
    await expect(simulator.waitForPage({ phone: '628000' }, 10)).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(simulator.listenerCount('report')).toBe(0);
  });

  it('closes every page channel when closed and refuses pages after', () => {
    const { simulator, channel } = pairedSimulator();
    simulator.close();
    expect(channel.closed).toBe(true);
    const late = recordingChannel();
    simulator.attachPage('late', null, late);
    expect(late.closed).toBe(true);
    expect(simulator.pages()).toEqual([]);
  });
});
