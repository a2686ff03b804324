import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { ChromiumNotFoundError } from '../errors';

/** Where the browser came from; the start log says which, and why. */
export type BrowserSource = 'PUPPETEER_EXECUTABLE_PATH' | 'headless-shell' | 'chromium' | 'bundled';

/** The browser the worker launches, and how. */
export interface BrowserChoice {
  executablePath: string;
  source: BrowserSource;
  /**
   * puppeteer's `headless`: `'shell'` runs a headless shell in the old headless mode (whatsapp-web.js
   * ran in it for years; a third of the CPU of a new-headless Chromium per launch), `true` a full
   * Chromium in the new headless mode.
   */
  headless: 'shell' | true;
  /** Environment the browser needs beyond the worker's scrubbed one (the bundled one's libraries). */
  env: Record<string, string>;
  /** One line for the start log. */
  reason: string;
}

/** Headless shells: Debian's `chromium-headless-shell`, Google's `chrome-headless-shell`. */
const HEADLESS_SHELLS = ['chromium-headless-shell', 'chrome-headless-shell'];
const FULL_BROWSERS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/** The npm package whose headless shell is the last resort (a dependency of the worker: 67 MB, nothing downloaded at install). */
export const BUNDLED_PACKAGE = '@sparticuz/chromium';

export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(names: readonly string[], searchPath: string): string | null {
  for (const name of names) {
    for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
      const file = path.join(dir, name);
      if (isExecutable(file)) return file;
    }
  }
  return null;
}

/**
 * Debian's `/usr/bin/chromium-headless-shell` is a two-line `sh -e` script that runs the real
 * binary without `exec`: a shell would sit between puppeteer and the browser (its pid is the one
 * puppeteer watches and kills). The binary it runs is launched directly instead.
 */
export function unwrapLauncherScript(file: string): string {
  let text: string;
  try {
    if (fs.statSync(file).size > 4096) return file;
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return file;
  }
  if (!text.startsWith('#!')) return file;
  const lines = text.split('\n').slice(1).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const match = lines.length === 1 ? /^(?:exec\s+)?(\/\S+)\s+"\$@"$/.exec(lines[0]!) : null;
  return match && isExecutable(match[1]!) ? match[1]! : file;
}

/** A headless shell by its name: the old headless mode is the only one it has. */
function isHeadlessShell(file: string): boolean {
  return /headless[-_]shell/.test(path.basename(file));
}

export interface DiscoveryOptions {
  /** `PUPPETEER_EXECUTABLE_PATH`. */
  configured?: string;
  /** Where to look for system browsers (`PATH`). */
  searchPath: string;
  /** Folder of the bundled package's `bin/` (with `chromium.br`), or null when it is not installed. */
  bundledBin: string | null;
  /** A folder this worker owns, where the bundled browser is unpacked once. */
  cacheDir: string;
}

/**
 * The browser to launch, in this order: `PUPPETEER_EXECUTABLE_PATH`; a system headless shell; a
 * system Chromium or Chrome; the headless shell shipped in the npm package `@sparticuz/chromium`
 * (unpacked once into `cacheDir`). Throws `ChromiumNotFoundError` when there is none.
 */
export async function findBrowser(options: DiscoveryOptions): Promise<BrowserChoice> {
  const { configured } = options;
  if (configured) {
    if (!isExecutable(configured)) throw new ChromiumNotFoundError(configured);
    const shell = isHeadlessShell(configured) || isBundledBinary(configured, options.cacheDir);
    return {
      executablePath: configured,
      source: 'PUPPETEER_EXECUTABLE_PATH',
      headless: shell ? 'shell' : true,
      env: shell && isBundledBinary(configured, options.cacheDir) ? bundledEnv(path.dirname(configured)) : {},
      reason: `PUPPETEER_EXECUTABLE_PATH is set; ${shell ? 'a headless shell (old headless mode)' : 'new headless mode'}`,
    };
  }
  const shell = onPath(HEADLESS_SHELLS, options.searchPath);
  if (shell) {
    return { executablePath: unwrapLauncherScript(shell), source: 'headless-shell', headless: 'shell', env: {}, reason: `${shell}: a headless shell on PATH (old headless mode, the cheapest)` };
  }
  const full = onPath(FULL_BROWSERS, options.searchPath);
  if (full) {
    return {
      executablePath: full,
      source: 'chromium',
      headless: true,
      env: {},
      reason: `${full} on PATH (new headless mode; install chromium-headless-shell for about a third of the CPU per launch)`,
    };
  }
  if (options.bundledBin && fs.existsSync(path.join(options.bundledBin, 'chromium.br'))) {
    const dir = await unpackBundled(options.bundledBin, options.cacheDir);
    return {
      executablePath: path.join(dir, 'chromium'),
      source: 'bundled',
      headless: 'shell',
      env: bundledEnv(dir),
      reason: `no browser on PATH: the headless shell of the npm package ${BUNDLED_PACKAGE}, unpacked in ${dir}`,
    };
  }
  throw new ChromiumNotFoundError();
}

/**
 * {@link findBrowser} on this machine as the worker runs: its `PATH`, the installed bundled
 * package, this user's cache folder; `configured` is `PUPPETEER_EXECUTABLE_PATH`.
 */
export function findBrowserOnThisMachine(configured: string | undefined): Promise<BrowserChoice> {
  return findBrowser({ configured, searchPath: process.env.PATH ?? '', bundledBin: bundledPackageBin(), cacheDir: defaultCacheDir() });
}

/** The `bin/` folder of the installed bundled package, or null. */
export function bundledPackageBin(): string | null {
  // Resolved by folder, not by require.resolve: the package is ESM-only and exports no package.json.
  for (const dir of require.resolve.paths(BUNDLED_PACKAGE) ?? []) {
    const bin = path.join(dir, BUNDLED_PACKAGE, 'bin');
    if (fs.existsSync(path.join(bin, 'chromium.br'))) return bin;
  }
  return null;
}

/** `$XDG_CACHE_HOME/wa-session-sync`, else `~/.cache/wa-session-sync`: this user's, not /tmp's. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(base, 'wa-session-sync');
}

function bundledVersion(bin: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(bin, '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function isBundledBinary(file: string, cacheDir: string): boolean {
  return path.resolve(file).startsWith(path.resolve(cacheDir) + path.sep) && path.basename(file) === 'chromium';
}

/** What the bundled headless shell needs: its NSS libraries (Amazon Linux builds) and its fonts. */
function bundledEnv(dir: string): Record<string, string> {
  return { LD_LIBRARY_PATH: path.join(dir, 'lib'), FONTCONFIG_PATH: path.join(dir, 'fonts') };
}

/**
 * Unpacks the package's brotli archives once into `<cacheDir>/chromium-<version>/`: the binary,
 * its libraries (`al2023.tar.br`: NSS, which machines without a browser lack) and fonts. Written to
 * a folder of its own first and renamed into place, so a worker stopped halfway, or two starting
 * at once, never leave a half-written browser behind. ~4 s the first time on two cores.
 */
export async function unpackBundled(bin: string, cacheDir: string): Promise<string> {
  const dir = path.join(cacheDir, `chromium-${bundledVersion(bin)}`);
  if (isExecutable(path.join(dir, 'chromium'))) return dir;
  fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const partial = fs.mkdtempSync(path.join(cacheDir, '.unpacking-'));
  try {
    await pipeline(fs.createReadStream(path.join(bin, 'chromium.br')), zlib.createBrotliDecompress(), fs.createWriteStream(path.join(partial, 'chromium'), { mode: 0o700 }));
    for (const archive of ['al2023.tar.br', 'fonts.tar.br']) {
      if (fs.existsSync(path.join(bin, archive))) await untarBrotli(path.join(bin, archive), partial);
    }
    // Its own fonts.conf names Lambda's folders; this one names the unpacked fonts.
    fs.mkdirSync(path.join(partial, 'fonts'), { recursive: true });
    fs.writeFileSync(
      path.join(partial, 'fonts', 'fonts.conf'),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  <dir>${path.join(dir, 'fonts')}</dir>\n  <dir>/usr/share/fonts</dir>\n  <cachedir>${path.join(dir, 'fonts-cache')}</cachedir>\n</fontconfig>\n`,
    );
    fs.rmSync(path.join(partial, 'fonts.conf'), { force: true });
    try {
      fs.renameSync(partial, dir);
    } catch (error) {
      // Another worker finished first: its copy is as good as ours.
      if (!isExecutable(path.join(dir, 'chromium'))) throw error;
    }
  } finally {
    fs.rmSync(partial, { recursive: true, force: true });
  }
  return dir;
}

/** `tar -x` of a brotli-compressed archive: the system's tar (every Linux has one) reads the stream. */
async function untarBrotli(archive: string, into: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const tar = execFile('tar', ['-x', '-f', '-', '-C', into], (error) => (error ? reject(error) : resolve()));
    pipeline(fs.createReadStream(archive), zlib.createBrotliDecompress(), tar.stdin!).catch(reject);
  });
}
