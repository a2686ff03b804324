import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isExecutable } from '@wa-session-sync/worker/dist/browser/discovery';

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
  noBrowserPath ??= execFileSync('bash', [SCRIPT, fs.mkdtempSync(path.join(os.tmpdir(), 'wa-no-browser-'))], { encoding: 'utf8' }).trim();
  return noBrowserPath;
}

/**
 * Every browser the worker may pick that this machine has: Debian's headless shell and Chromium
 * when installed, and always the headless shell of the bundled npm package (`@sparticuz/chromium`).
 */
export function browsersUnderTest(): BrowserUnderTest[] {
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
