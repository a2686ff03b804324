import { EventEmitter } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { SimulatorError } from './errors';
import { newPairingCode, parsePairingCode, parsePhone, parseWid, refOfQr } from './phone';

/** One page load of the simulated web.whatsapp.com (one per navigation of a client's tab). */
export interface SimulatedPage {
  /** one per page load (connection) */
  id: string;
  /** the QR ref currently shown, null when paired */
  ref: string | null;
  /** the full QR string the page shows (`ref,staticKeyB64,identityKeyB64,advSecret,platform`) */
  qr: string | null;
  /** digits, set once paired (e.g. "6281234567890") */
  phone: string | null;
  /** Socket state the page reports: UNPAIRED, PAIRING, CONNECTED, CONFLICT, TIMEOUT, ... */
  state: string;
  /** the page's main thread is blocked (`hang()`); set when the page confirms, just as it blocks */
  hung: boolean;
  /** ISO time the page connected to the simulator */
  connectedAt: string;
  /** the pairing code the page shows (`client.requestPairingCode`), null when none */
  pairingCode: string | null;
  /** the phone number the pairing code was requested for: only that phone can enter it */
  pairingPhone: string | null;
}

/**
 * A page reported itself connected while other pages of the same phone still were: the simulator
 * sent CONFLICT to those older pages, as WhatsApp does when a second session of one number connects.
 */
export interface DoubleLogin {
  /** the phone both sessions are paired as (digits) */
  phone: string;
  /** ISO time the newer page reported itself connected */
  at: string;
  /** the page that connected last; it keeps the connection */
  newPage: string;
  /** the pages that were still connected; each was sent CONFLICT */
  oldPages: string[];
}

/** A message a client sent (`client.sendMessage`). `from` is the sender's phone digits, `to` the chat wid. */
export interface OutboundMessage {
  from: string | null;
  to: string;
  body: string;
  id: string;
}

/** What {@link WhatsAppSimulator.waitForPage} looks for; every given field must match. */
export interface PageMatch {
  phone?: string;
  /** the full QR string or its ref */
  qr?: string;
  state?: string;
  /** true: the page confirmed it is hung (wait for this after `hang()`) */
  hung?: boolean;
}

export const SETTABLE_STATES = ['CONFLICT', 'TIMEOUT', 'UNLAUNCHED', 'DEPRECATED_VERSION', 'CONNECTED'] as const;
export type SettableState = (typeof SETTABLE_STATES)[number];

export type SimulatorEvent = 'page' | 'page-gone' | 'report' | 'outbound' | 'control' | 'double-login';

/** What a page reports about itself (POST /sim/report). */
export interface PageReport {
  state?: string;
  ref?: string | null;
  qr?: string | null;
  phone?: string | null;
  hung?: boolean;
  /** null: the page stopped showing its pairing code (`cancelPairingCode`) */
  pairingCode?: null;
}

/** The simulator's way to push an event to one open page (the server backs it by an EventSource). */
export interface PageChannel {
  send(event: 'hello' | 'paired' | 'message' | 'state' | 'logout' | 'hang', data: object): void;
  close(): void;
}

/** How a page that connects is told to start: restored, refused (its device was unlinked), or new. */
export type RestoreVerdict = 'connect' | 'revoked' | 'none';

interface OpenPage {
  page: SimulatedPage;
  channel: PageChannel;
  /** sent CONFLICT for a double login since it last reported CONNECTED: not counted again */
  conflicted: boolean;
}

/**
 * The simulated WhatsApp side: the open pages, the devices each phone has linked, and the control
 * operations a test performs as "the phone". It knows nothing of HTTP; the server feeds it.
 */
export class WhatsAppSimulator extends EventEmitter {
  readonly outbound: OutboundMessage[] = [];
  private readonly openPages = new Map<string, OpenPage>();
  /** device id -> the phone it is linked to, and whether the phone has unlinked it since */
  private readonly devices = new Map<string, { phone: string; revoked: boolean }>();
  private readonly doubleLoginLog: DoubleLogin[] = [];
  private stopped = false;

  constructor(private readonly log: (entry: object) => void = () => {}) {
    super();
  }

  /** live pages only */
  pages(): SimulatedPage[] {
    return [...this.openPages.values()].map(({ page }) => ({ ...page }));
  }

  /**
   * Resolves with the first live page that matches every given field (`qr` may be a full QR or a
   * ref); rejects with TIMEOUT after `timeoutMs` (default 10 s).
   */
  waitForPage(match: PageMatch, timeoutMs = 10_000): Promise<SimulatedPage> {
    const matches = (page: SimulatedPage) =>
      (match.phone === undefined || page.phone === match.phone) &&
      (match.state === undefined || page.state === match.state) &&
      (match.hung === undefined || page.hung === match.hung) &&
      (match.qr === undefined || (page.ref !== null && page.ref === match.qr.split(',')[0]));
    const found = this.pages().find(matches);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = () => {
        const page = this.pages().find(matches);
        if (page) finish(() => resolve(page));
      };
      const timer = setTimeout(
        () => finish(() => reject(new SimulatorError('TIMEOUT', `no page matched ${JSON.stringify(match)} within ${timeoutMs} ms`))),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.off('page', check).off('report', check);
        settle();
      };
      this.on('page', check).on('report', check);
    });
  }

  /** The double logins seen so far, oldest first. */
  doubleLogins(): DoubleLogin[] {
    return this.doubleLoginLog.map((entry) => ({ ...entry, oldPages: [...entry.oldPages] }));
  }

  /**
   * {@link scan}, once a page has reported showing that QR: whatsapp-web.js reads the QR off the
   * page and can hand it to its caller before the page's own report reaches this server (seen
   * under load), so a scan at once could find no page for it. Rejects with TIMEOUT as
   * {@link waitForPage}.
   */
  async scanWhenShown(qr: string, phone: string, timeoutMs = 10_000): Promise<void> {
    await this.waitForPage({ qr }, timeoutMs);
    this.scan(qr, phone);
  }

  /** The phone scans the QR (the full string or its ref): the page showing it pairs as `phone`. */
  scan(qr: string, phone: string): void {
    const ref = refOfQr(qr);
    parsePhone(phone);
    const open = [...this.openPages.values()].find(({ page }) => page.ref === ref);
    if (!open) throw new SimulatorError('NO_PAGE_FOR_QR', `no open page shows the QR ref ${ref}`);
    this.link(open, phone);
    this.control('scan', { phone, page: open.page.id });
  }

  /**
   * The phone enters the pairing code a page shows (`ABCD-EFGH` or `ABCDEFGH`): the page links as
   * `phone`, exactly as after a scan. Only the phone the code was requested for can enter it.
   */
  enterCode(code: string, phone: string): void {
    const wanted = parsePairingCode(code);
    parsePhone(phone);
    const open = [...this.openPages.values()].find(({ page }) => page.pairingCode === wanted);
    if (!open) throw new SimulatorError('NO_PAGE_FOR_CODE', `no open page shows the pairing code ${wanted} (unknown, or replaced by a newer one)`);
    if (open.page.pairingPhone !== phone) {
      throw new SimulatorError('WRONG_PHONE', `the pairing code ${wanted} was requested for another phone number than ${phone}`);
    }
    this.link(open, phone);
    this.control('enter-code', { phone, page: open.page.id });
  }

  /**
   * A page asks for a pairing code for `phone` (its `startAltLinkingFlow`): a new code replaces the
   * one it showed before, which no longer links. Returns the code.
   */
  requestPairingCode(id: string, phone: unknown): string {
    const open = this.openPages.get(id);
    if (!open) throw new SimulatorError('NOT_FOUND', `no open page ${id}`);
    const pairingPhone = parsePhone(phone, 'phoneNumber');
    let code: string;
    do code = newPairingCode(randomBytes(5));
    while (this.pages().some((page) => page.pairingCode === code));
    Object.assign(open.page, { pairingCode: code, pairingPhone });
    this.log({ event: 'pairing-code', page: id, phone: pairingPhone });
    this.emit('report', { ...open.page }, { pairingCode: code, pairingPhone });
    return code;
  }

  /** An incoming message to the page paired as `phone`, from digits or a wid; returns the message id. */
  sendMessage(phone: string, from: string, body: string): string {
    const target = this.pageOf(phone);
    const sender = parseWid(from, 'from');
    if (typeof body !== 'string') throw new SimulatorError('INVALID_ARGUMENT', 'body must be a string');
    const id = randomBytes(10).toString('hex').toUpperCase();
    target.channel.send('message', { id, from: sender, body, t: Math.floor(Date.now() / 1000) });
    this.control('message', { phone, from: sender, id });
    return id;
  }

  /** The connection of the page paired as `phone` changes state (CONFLICT makes the library emit `disconnected`). */
  setState(phone: string, state: SettableState): void {
    const target = this.pageOf(phone);
    if (!SETTABLE_STATES.includes(state)) {
      throw new SimulatorError('INVALID_ARGUMENT', `state must be one of ${SETTABLE_STATES.join(', ')}`);
    }
    target.channel.send('state', { state });
    this.control('state', { phone, state });
  }

  /**
   * The phone unlinks all its devices: open pages clear their storage and fire Cmd `logout`; a
   * profile that is not open now is refused (and logged out) the next time it is restored.
   */
  logout(phone: string): void {
    parsePhone(phone);
    const linked = [...this.devices.values()].filter((device) => device.phone === phone);
    const open = [...this.openPages.values()].filter(({ page }) => page.phone === phone);
    if (linked.length === 0 && open.length === 0) {
      throw new SimulatorError('UNKNOWN_PHONE', `no device was ever linked to ${phone}`);
    }
    for (const device of linked) device.revoked = true;
    for (const { channel } of open) channel.send('logout', {});
    this.control('logout', { phone, devices: linked.length, open: open.length });
  }

  /**
   * The main thread of the page paired as `phone` blocks forever; a later page load is healthy.
   * The page confirms as it blocks: `waitForPage({ phone, hung: true })`.
   */
  hang(phone: string): void {
    const target = this.pageOf(phone);
    target.channel.send('hang', {});
    this.control('hang', { phone, page: target.page.id });
  }

  /** A page connected: decide how it starts. `device` is the pairing it restored from storage, if any. */
  attachPage(id: string, restored: { device: string; phone: string } | null, channel: PageChannel): void {
    if (this.stopped) {
      channel.close();
      return;
    }
    let restore: RestoreVerdict = 'none';
    if (restored) {
      // A device we never saw (the simulator restarted) is trusted: keep this simple.
      const known = this.devices.get(restored.device) ?? { phone: restored.phone, revoked: false };
      this.devices.set(restored.device, known);
      restore = known.revoked ? 'revoked' : 'connect';
    }
    const page: SimulatedPage = {
      id,
      ref: null,
      qr: null,
      phone: restore === 'connect' ? restored!.phone : null,
      state: 'OPENING',
      hung: false,
      connectedAt: new Date().toISOString(),
      pairingCode: null,
      pairingPhone: null,
    };
    this.openPages.set(id, { page, channel, conflicted: false });
    channel.send('hello', { restore });
    this.log({ event: 'page', page: id, restore });
    this.emit('page', { ...page });
  }

  detachPage(id: string): void {
    const open = this.openPages.get(id);
    if (!open) return;
    this.openPages.delete(id);
    this.log({ event: 'page-gone', page: id, phone: open.page.phone });
    this.emit('page-gone', { ...open.page });
  }

  /** A page reports its own state, QR and phone. Reports from pages that are gone are ignored. */
  applyReport(id: string, report: PageReport): void {
    const open = this.openPages.get(id);
    if (!open) return;
    const page = open.page;
    const wasConnected = page.state === 'CONNECTED' ? page.phone : null;
    if (typeof report.state === 'string') page.state = report.state;
    if (report.ref !== undefined) page.ref = report.ref;
    if (report.qr !== undefined) page.qr = report.qr;
    if (report.pairingCode === null) Object.assign(page, { pairingCode: null, pairingPhone: null });
    if (typeof report.phone === 'string') page.phone = report.phone;
    if (report.hung === true) page.hung = true;
    if (report.state) this.log({ event: 'state', page: id, phone: page.phone, state: page.state });
    if (page.state === 'CONNECTED' && page.phone !== null && page.phone !== wasConnected) this.connected(open);
    this.emit('report', { ...page }, report);
  }

  /** A client sent a message through the page `id`. */
  recordOutbound(id: string, message: { to: string; body: string; id: string }): void {
    const from = this.openPages.get(id)?.page.phone ?? null;
    const entry: OutboundMessage = { from, to: message.to, body: message.body, id: message.id };
    this.outbound.push(entry);
    this.log({ event: 'outbound', ...entry, body: undefined });
    this.emit('outbound', entry);
  }

  /** Ends every page channel; the pages see their connection drop. */
  close(): void {
    this.stopped = true;
    for (const { channel } of this.openPages.values()) channel.close();
    this.openPages.clear();
  }

  /** Links the page to `phone` (a scan or an entered code): a new device, and the page pairs. */
  private link(open: OpenPage, phone: string): void {
    const device = randomUUID();
    this.devices.set(device, { phone, revoked: false });
    Object.assign(open.page, { phone, ref: null, qr: null, pairingCode: null, pairingPhone: null });
    open.channel.send('paired', { phone, device, pushname: `Simulated ${phone}`, platform: 'android' });
  }

  /**
   * The page `open` just reported itself connected: any other open page of its phone that is still
   * connected is a double login. A page that is gone (its connection closed: replaced, destroyed,
   * killed) is no longer here, so a replacement is not one; a hung page that is still open is,
   * since it still holds its connection (it receives the CONFLICT but cannot act on it).
   */
  private connected(open: OpenPage): void {
    open.conflicted = false;
    const { id, phone } = open.page;
    const older = [...this.openPages.values()].filter(
      (other) => other !== open && !other.conflicted && other.page.phone === phone && other.page.state === 'CONNECTED',
    );
    if (older.length === 0) return;
    const entry: DoubleLogin = { phone: phone!, at: new Date().toISOString(), newPage: id, oldPages: older.map(({ page }) => page.id) };
    this.doubleLoginLog.push(entry);
    for (const other of older) {
      other.conflicted = true;
      other.channel.send('state', { state: 'CONFLICT' });
    }
    this.log({ event: 'double-login', ...entry });
    this.emit('double-login', { ...entry, oldPages: [...entry.oldPages] });
  }

  /** The newest open page paired as `phone`, preferring one that is not hung. */
  private pageOf(phone: string): OpenPage {
    parsePhone(phone);
    const candidates = [...this.openPages.values()].filter(({ page }) => page.phone === phone);
    const target = candidates.filter(({ page }) => !page.hung).pop() ?? candidates.pop();
    if (!target) throw new SimulatorError('UNKNOWN_PHONE', `no open page is paired as ${phone}`);
    return target;
  }

  private control(op: string, details: object): void {
    this.log({ event: 'control', op, ...details });
    this.emit('control', { op, ...details });
  }
}
