import type * as Wwebjs from 'whatsapp-web.js';
import { REASONS, silenceLateBrowserPipeErrors } from '@wa-session-sync/shared';
import type { BrowserChoice } from '../browser/discovery';
import type { WebVersionCache } from '../config';
import { puppeteerOptions } from '../browser/launch';
import { lowerProcessTreePriority } from '../browser/priority';
import { LocalProfileHost } from '../browser/profile-host';
import type { ClientEvents, ClientSpec, ProfileHost, SessionClient, SessionDriver } from './driver';

// The two classes the worker uses, from their own files: the package's index also loads every
// structure and RemoteAuth with its zip libraries, which cost about 70 ms of the worker's start
// (of ~300 ms of module loading) before it can listen. whatsapp-web.js is pinned (1.34.7).
const Client = require('whatsapp-web.js/src/Client') as typeof Wwebjs.Client;
const LocalAuth = require('whatsapp-web.js/src/authStrategies/LocalAuth') as typeof Wwebjs.LocalAuth;
type Client = Wwebjs.Client;
type LocalAuth = Wwebjs.LocalAuth;
type Message = Wwebjs.Message;

export interface WwebjsDriverOptions {
  /** The browser to launch and how (`browser/discovery.ts`). */
  browser: BrowserChoice;
  /** `markerArg` of this worker, carried by every Chromium it launches. */
  marker: string;
  /** `markerArg` of the previous worker on the folder, if known: its orphans may still hold a profile. */
  previousMarker: string | null;
  browserArgs: readonly string[];
  /** Chromium's own sandbox on (`browser/sandbox.ts` decides, at start). */
  sandbox: boolean;
  /** whatsapp-web.js `webVersionCache`, given whole: a `local` one always with its folder (never the working directory). */
  webVersionCache: WebVersionCache;
  /** Niceness given to each Chromium process group after launch; 0 leaves Chromium's own. */
  browserNice?: number;
}

/** Real clients: whatsapp-web.js `Client` + `LocalAuth` in headless Chromium over a pipe. */
export class WwebjsDriver implements SessionDriver {
  readonly profiles: ProfileHost;

  constructor(private readonly options: WwebjsDriverOptions) {
    this.profiles = new LocalProfileHost([options.marker, ...(options.previousMarker ? [options.previousMarker] : [])]);
  }

  create(spec: ClientSpec, events: ClientEvents): SessionClient {
    // No clientId: the profile is `<folder>/session`, one folder per session.
    const authStrategy = new LocalAuth({ dataPath: spec.folder });
    const client = new Client({
      authStrategy,
      puppeteer: puppeteerOptions({
        executablePath: this.options.browser.executablePath,
        headless: this.options.browser.headless,
        env: this.options.browser.env,
        marker: this.options.marker,
        extraArgs: this.options.browserArgs,
        sandbox: this.options.sandbox,
      }),
      webVersionCache: this.options.webVersionCache,
    });
    return new WwebjsClient(client, authStrategy, events, this.options.browserNice ?? 0);
  }
}

class WwebjsClient implements SessionClient {
  private watched = false;

  constructor(
    private readonly client: Client,
    authStrategy: LocalAuth,
    private readonly events: ClientEvents,
    browserNice: number,
  ) {
    // The library calls this hook right after launching Chromium (and again after a logout):
    // the earliest point to guard the pipes and watch the browser and page for death.
    const afterBrowserInitialized = authStrategy.afterBrowserInitialized.bind(authStrategy);
    authStrategy.afterBrowserInitialized = async () => {
      const browserProcess = this.client.pupBrowser?.process();
      silenceLateBrowserPipeErrors(browserProcess);
      if (browserNice !== 0 && browserProcess?.pid) void lowerProcessTreePriority(browserProcess.pid, browserNice);
      if (browserProcess?.pid) this.events.browserStarted?.(browserProcess.pid);
      this.watchBrowser();
      return afterBrowserInitialized();
    };
    client.on('qr', (qr: string) => events.qr(qr));
    // whatsapp-web.js 1.34.7 emits `code` for the code requestPairingCode answers and for each refresh.
    client.on('code', (code: string) => events.code(String(code)));
    client.on('authenticated', () => events.authenticated());
    client.on('ready', () => events.ready(this.client.info?.wid?.user ?? null));
    client.on('disconnected', (reason: string) => events.disconnected(String(reason)));
    client.on('auth_failure', (message: string) => events.authFailure(String(message)));
    client.on('message', (message: Message) => {
      if (message.fromMe) return;
      events.message({
        id: message.id._serialized,
        from: message.from,
        to: message.to,
        body: message.body,
        type: message.type,
        timestamp: message.timestamp,
      });
    });
  }

  private watchBrowser(): void {
    if (this.watched) return;
    const browser = this.client.pupBrowser;
    const page = this.client.pupPage;
    if (!browser || !page) return;
    this.watched = true;
    browser.once('disconnected', () => this.events.browserGone(REASONS.BROWSER_CLOSED));
    page.once('close', () => this.events.browserGone(REASONS.PAGE_CLOSED));
    page.once('error', () => this.events.browserGone(REASONS.PAGE_CRASHED));
  }

  initialize(): Promise<void> {
    return this.client.initialize();
  }

  async getState(): Promise<string | null> {
    return (await this.client.getState()) as string | null;
  }

  requestPairingCode(phoneNumber: string): Promise<string> {
    // Notification on (the library's default): the phone shows "enter code to link a device".
    return this.client.requestPairingCode(phoneNumber, true);
  }

  isAlive(): boolean {
    const browser = this.client.pupBrowser;
    const page = this.client.pupPage;
    return Boolean(browser?.connected && page && !page.isClosed());
  }

  destroy(): Promise<void> {
    return this.client.destroy();
  }

  logout(): Promise<void> {
    return this.client.logout();
  }

  async kill(): Promise<void> {
    const browserProcess = this.client.pupBrowser?.process();
    if (!browserProcess?.pid || browserProcess.exitCode !== null || browserProcess.signalCode !== null) return;
    const exited = new Promise((resolve) => browserProcess.once('exit', resolve));
    try {
      // puppeteer launches Chromium detached: its pid leads a process group holding every helper.
      process.kill(-browserProcess.pid, 'SIGKILL');
    } catch {
      browserProcess.kill('SIGKILL');
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}
