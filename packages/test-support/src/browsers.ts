import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBrowserOnThisMachine, isExecutable, type BrowserChoice } from '@wa-session-sync/worker/dist/browser/discovery';

export type { BrowserChoice };

/** One browser the worker may pick on this machine, and how to make it pick that one. */
export interface BrowserUnderTest {
  name: string;
  /** What the worker's environment must hold (on top of the usual) to pick it. */
  env: Record<string, string>;
  /** What the worker's start log says it picked (`"message":"Browser"`). */
  source: 'PUPPETEER_EXECUTABLE_PATH' | 'bundled';
  headless: 'shell' | true;
}

const SCRIPT = path.resolve(__dirname, '..', '..', '..', 'scripts', 'path-without-browsers.sh');

let noBrowserPath: string | undefined;

/**
 * A PATH on which no system browser is found (`scripts/path-without-browsers.sh`: links to every
 * other command), made once per process: a worker started on it uses the bundled headless shell.
 */
export function pathWithoutBrowsers(): string {
  if (noBrowserPath === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-no-browser-'));
    fs.chmodSync(dir, 0o755); // a worker run as another user (unprivilegedUser) uses it too
    noBrowserPath = execFileSync('bash', [SCRIPT, dir], { encoding: 'utf8' }).trim();
  }
  return noBrowserPath;
}

/**
 * Every browser the worker may pick that this machine has, in the worker's own order of preference:
 * Debian's headless shell and Chromium when installed, and always the headless shell of the bundled
 * npm package (`@sparticuz/chromium`).
 */
function browsersOnThisMachine(): BrowserUnderTest[] {
  const browsers: BrowserUnderTest[] = [];
  if (isExecutable('/usr/lib/chromium/chromium-headless-shell')) {
    browsers.push({ name: 'the system headless shell', env: { PUPPETEER_EXECUTABLE_PATH: '/usr/lib/chromium/chromium-headless-shell' }, source: 'PUPPETEER_EXECUTABLE_PATH', headless: 'shell' });
  }
  if (isExecutable('/usr/bin/chromium')) {
    browsers.push({ name: 'the system Chromium (new headless)', env: { PUPPETEER_EXECUTABLE_PATH: '/usr/bin/chromium' }, source: 'PUPPETEER_EXECUTABLE_PATH', headless: true });
  }
  browsers.push({ name: 'the bundled headless shell', env: { PATH: pathWithoutBrowsers() }, source: 'bundled', headless: 'shell' });
  return browsers;
}

/**
 * The browsers a whole-flow suite runs on, chosen by `WA_TEST_BROWSERS`:
 * - unset: one, the one the worker itself would pick here (a newcomer's `npm test`, on whatever
 *   the machine has, the bundled headless shell when it has none);
 * - `system`: every system browser installed (CI's browser matrix, run once on one Node version);
 * - `all`: those and the bundled one.
 * Chromium's behaviour does not depend on Node's version, so CI runs the matrix on one.
 */
export function browsersUnderTest(selection = process.env.WA_TEST_BROWSERS ?? ''): BrowserUnderTest[] {
  const browsers = browsersOnThisMachine();
  switch (selection) {
    case '':
      return browsers.slice(0, 1);
    case 'system':
      return browsers.filter((browser) => browser.source !== 'bundled');
    case 'all':
      return browsers;
    default:
      throw new Error(`WA_TEST_BROWSERS=${selection}: must be unset, system or all`);
  }
}

let testBrowser: Promise<BrowserChoice> | undefined;

/**
 * The browser a test drives directly (not through the worker), found the way the worker finds
 * its own: `PUPPETEER_EXECUTABLE_PATH`, a system headless shell, a system Chromium, else the
 * bundled headless shell. Found once per test process.
 */
export function browserForTests(): Promise<BrowserChoice> {
  testBrowser ??= findBrowserOnThisMachine(process.env.PUPPETEER_EXECUTABLE_PATH || undefined);
  return testBrowser;
}
