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

  it('scans a QR once its page has reported showing it, and times out naming none', async () => {
    const simulator = new WhatsAppSimulator();
    const channel = recordingChannel();
    simulator.attachPage('a', null, channel);
    // The worker read the QR off the page before the page's report arrived here.
    const scanned = simulator.scanWhenShown(QR, '628111', 2000);
    expect(channel.sent.map((s) => s.event)).toEqual(['hello']);
    simulator.applyReport('a', { ref: '2@ref1', qr: QR, state: 'UNPAIRED' });
    await scanned;
    expect(channel.sent.map((s) => s.event)).toEqual(['hello', 'paired']);
    await expect(simulator.scanWhenShown('2@never,x,y,z,w', '628111', 50)).rejects.toMatchObject({ code: 'TIMEOUT' });
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

  describe('pairing by code', () => {
    /** A new page that asked for a code for `requested`; returns the code. */
    function pageWithCode(requested = '6281234567890') {
      const simulator = new WhatsAppSimulator();
      const channel = recordingChannel();
      simulator.attachPage('page-1', null, channel);
      simulator.applyReport('page-1', { ref: '2@ref1', qr: QR, state: 'UNPAIRED' });
      const code = simulator.requestPairingCode('page-1', requested);
      return { simulator, channel, code, requested };
    }

    it('issues a code the page shows, and links the page when that phone enters it', () => {
      const { simulator, channel, code, requested } = pageWithCode();
      expect(code).toMatch(/^[1-9A-HJ-NP-TV-Z]{8}$/);
      expect(simulator.pages()[0]).toMatchObject({ pairingCode: code, pairingPhone: requested });
      simulator.enterCode(code.toLowerCase(), requested);
      expect(channel.sent.at(-1)).toEqual({ event: 'paired', data: expect.objectContaining({ phone: requested, device: expect.any(String) }) });
      expect(simulator.pages()[0]).toMatchObject({ phone: requested, pairingCode: null, pairingPhone: null, ref: null, qr: null });
      expect(() => simulator.enterCode(code, requested)).toThrow(expect.objectContaining({ code: 'NO_PAGE_FOR_CODE' }));
    });

    it('replaces the code on each request: the old one no longer links', () => {
      const { simulator, code } = pageWithCode();
      const next = simulator.requestPairingCode('page-1', '6281234567890');
      expect(next).not.toBe(code);
      expect(() => simulator.enterCode(code, '6281234567890')).toThrow(expect.objectContaining({ code: 'NO_PAGE_FOR_CODE' }));
      expect(simulator.pages()[0]!.pairingCode).toBe(next);
    });

    it('refuses the code from another phone, a malformed code, a bad phone, and changes nothing', () => {
      const { simulator, channel, code } = pageWithCode();
      expect(() => simulator.enterCode(code, '628999')).toThrow(expect.objectContaining({ code: 'WRONG_PHONE' }));
      expect(() => simulator.enterCode('ABCD-EFG0', '6281234567890')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      expect(() => simulator.enterCode(code, '+62 812')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      expect(() => simulator.requestPairingCode('page-1', '+62 812')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      expect(() => simulator.requestPairingCode('gone', '628111')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
      expect(channel.sent.map((s) => s.event)).toEqual(['hello']);
      expect(simulator.pages()[0]).toMatchObject({ pairingCode: code, phone: null });
    });

    it('forgets the code when the page cancels it or is gone', () => {
      const { simulator, code, requested } = pageWithCode();
      simulator.applyReport('page-1', { pairingCode: null });
      expect(simulator.pages()[0]).toMatchObject({ pairingCode: null, pairingPhone: null });
      expect(() => simulator.enterCode(code, requested)).toThrow(expect.objectContaining({ code: 'NO_PAGE_FOR_CODE' }));
      const again = simulator.requestPairingCode('page-1', requested);
      simulator.detachPage('page-1');
      expect(() => simulator.enterCode(again, requested)).toThrow(expect.objectContaining({ code: 'NO_PAGE_FOR_CODE' }));
    });
  });

  describe('double logins', () => {
    const phone = '6281234567890';
    /** `count` restored pages of one phone, opened in order; none has reported CONNECTED yet. */
    function restoredPages(count: number) {
      const simulator = new WhatsAppSimulator();
      const channels = Array.from({ length: count }, (_, i) => {
        const channel = recordingChannel();
        simulator.attachPage(`page-${i + 1}`, { device: 'dev-1', phone }, channel);
        return channel;
      });
      return { simulator, channels };
    }

    it('records a page that connects while another of its phone is connected, and sends CONFLICT to the older one', () => {
      const { simulator, channels } = restoredPages(2);
      const seen: unknown[] = [];
      simulator.on('double-login', (entry) => seen.push(entry));
      simulator.applyReport('page-1', { state: 'CONNECTED' });
      expect(simulator.doubleLogins()).toEqual([]);
      simulator.applyReport('page-2', { state: 'CONNECTED' });
      expect(simulator.doubleLogins()).toEqual([{ phone, at: expect.any(String), newPage: 'page-2', oldPages: ['page-1'] }]);
      expect(seen).toEqual(simulator.doubleLogins());
      expect(channels[0]!.sent.at(-1)).toEqual({ event: 'state', data: { state: 'CONFLICT' } });
      expect(channels[1]!.sent.map((s) => s.event)).toEqual(['hello']);
      // the same pair is one double login, however often the newer page repeats itself
      simulator.applyReport('page-2', { state: 'CONNECTED', phone });
      simulator.applyReport('page-2', { state: 'TIMEOUT' });
      simulator.applyReport('page-2', { state: 'CONNECTED' });
      expect(simulator.doubleLogins()).toHaveLength(1);
    });

    it('counts a hung page that is still open, not a page that is gone', () => {
      const { simulator, channels } = restoredPages(3);
      simulator.applyReport('page-1', { state: 'CONNECTED' });
      simulator.detachPage('page-1'); // replaced: its connection closed
      simulator.applyReport('page-2', { state: 'CONNECTED' });
      expect(simulator.doubleLogins()).toEqual([]);
      simulator.applyReport('page-2', { hung: true });
      simulator.applyReport('page-3', { state: 'CONNECTED' });
      expect(simulator.doubleLogins()).toEqual([expect.objectContaining({ newPage: 'page-3', oldPages: ['page-2'] })]);
      expect(channels[1]!.sent.at(-1)).toEqual({ event: 'state', data: { state: 'CONFLICT' } });
    });

    it('does not count pages of other phones, or pages not connected', () => {
      const simulator = new WhatsAppSimulator();
      simulator.attachPage('a', { device: 'dev-a', phone: '628111' }, recordingChannel());
      simulator.attachPage('b', { device: 'dev-b', phone: '628222' }, recordingChannel());
      simulator.attachPage('c', { device: 'dev-c', phone: '628111' }, recordingChannel());
      simulator.applyReport('a', { state: 'CONFLICT' });
      simulator.applyReport('b', { state: 'CONNECTED' });
      simulator.applyReport('c', { state: 'CONNECTED' });
      expect(simulator.doubleLogins()).toEqual([]);
    });

    it('records a takeover as a new double login the other way round', () => {
      const { simulator, channels } = restoredPages(2);
      simulator.applyReport('page-1', { state: 'CONNECTED' });
      simulator.applyReport('page-2', { state: 'CONNECTED' });
      simulator.applyReport('page-1', { state: 'CONFLICT' });
      simulator.applyReport('page-1', { state: 'CONNECTED' }); // Socket.takeover()
      expect(simulator.doubleLogins().map((d) => [d.newPage, d.oldPages])).toEqual([
        ['page-2', ['page-1']],
        ['page-1', ['page-2']],
      ]);
      expect(channels[1]!.sent.at(-1)).toEqual({ event: 'state', data: { state: 'CONFLICT' } });
    });
  });
});
