import https from 'node:https';
import { Client, LocalAuth } from 'whatsapp-web.js';
import { silenceLateBrowserPipeErrors } from '@wa-session-sync/shared';
import type { BrowserChoice } from '@wa-session-sync/test-support';
import type { Simulator } from '../src';

/**
 * A real whatsapp-web.js client whose Chromium is sent to the simulator; its profile lives in
 * `dataPath`. `browser` is the one the worker would pick (test-support's `browserForTests`).
 */
export function simulatedClient(simulator: Simulator, dataPath: string, browser: BrowserChoice): Client {
  const authStrategy = new LocalAuth({ dataPath });
  const client = new Client({
    authStrategy,
    webVersionCache: { type: 'none' },
    puppeteer: {
      executablePath: browser.executablePath,
      headless: browser.headless,
      env: { ...process.env, ...browser.env },
      pipe: true,
      args: [
        ...simulator.chromiumArgs(),
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  });
  // The library calls this hook right after launching Chromium: the earliest point to guard its pipes.
  const afterBrowserInitialized = authStrategy.afterBrowserInitialized.bind(authStrategy);
  authStrategy.afterBrowserInitialized = async () => {
    silenceLateBrowserPipeErrors(client.pupBrowser?.process());
    return afterBrowserInitialized();
  };
  return client;
}

const pendingTimers = new Set<NodeJS.Timeout>();

/**
 * Forgets every `nextEvent` still waiting (call it in `afterEach`): a test that failed before
 * awaiting one must not have it reject later, inside whatever test the jest worker runs next.
 */
export function cancelPendingEvents(): void {
  for (const timer of pendingTimers) clearTimeout(timer);
  pendingTimers.clear();
}

/** The first emission of `event`, or a rejection naming it after `timeoutMs`. */
export function nextEvent<T = unknown>(client: Client, event: string, timeoutMs = 15_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      client.off(event, listener);
      reject(new Error(`no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    pendingTimers.add(timer);
    const listener = (value: T) => {
      clearTimeout(timer);
      pendingTimers.delete(timer);
      resolve(value);
    };
    client.once(event, listener);
  });
}

/** Settles with `promise`, or rejects after `ms` (the promise is left to itself). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Destroys a client and makes sure its Chromium is gone: destroy() can hang (a hung page) or
 * throw (the library already closed its browser), so the browser process is killed if it is left.
 */
export async function destroyClient(client: Client): Promise<void> {
  const browserProcess = client.pupBrowser?.process() ?? null;
  await within(client.destroy(), 5_000, 'client.destroy()').catch(() => {});
  if (browserProcess && browserProcess.exitCode === null && browserProcess.signalCode === null) {
    browserProcess.kill('SIGKILL');
    await new Promise((resolve) => browserProcess.once('exit', resolve));
  }
}

/** One request to the simulator's HTTP control API, trusting its own certificate. */
export function control(
  simulator: Simulator,
  method: 'GET' | 'POST',
  pathname: string,
  body?: unknown,
): Promise<{ status: number; contentType: string | undefined; body: any }> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = https.request(
      new URL(pathname, simulator.controlUrl),
      { method, ca: simulator.certificate, headers: payload ? { 'content-type': 'application/json' } : {} },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode!, contentType: response.headers['content-type'], body: text ? JSON.parse(text) : null }),
        );
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}
