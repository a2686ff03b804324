import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
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
  /** Something the operator should know, logged as a warning (a tampered bundled browser unpacked again). */
  warning?: string;
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
    const { dir, replaced } = await unpackBundled(options.bundledBin, options.cacheDir);
    return {
      executablePath: path.join(dir, 'chromium'),
      source: 'bundled',
      headless: 'shell',
      env: bundledEnv(dir),
      reason: `no browser on PATH: the headless shell of the npm package ${BUNDLED_PACKAGE}, unpacked in ${dir}`,
      ...(replaced ? { warning: `the unpacked browser in ${dir} was unpacked again: ${replaced}` } : {}),
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
 * The record of what was unpacked, `{ "<file>": "<sha256 hex>" }`: the binary and the libraries it
 * loads (LD_LIBRARY_PATH), i.e. every file that runs as the worker's user.
 */
const CHECKSUMS = '.sha256.json';

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    fs.createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

/** The files {@link CHECKSUMS} covers in an unpacked folder: `chromium` and `lib/*`. */
function runnableFiles(dir: string): string[] {
  const lib = path.join(dir, 'lib');
  const libs = fs.existsSync(lib) ? fs.readdirSync(lib).map((name) => path.join('lib', name)) : [];
  return ['chromium', ...libs].filter((file) => fs.statSync(path.join(dir, file)).isFile());
}

async function checksums(dir: string): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  for (const file of runnableFiles(dir)) sums[file] = await sha256(path.join(dir, file));
  return sums;
}

/**
 * Why the unpacked folder must not be reused, or null when every file matches the sha256 recorded
 * when it was unpacked. Hashing the ~200 MB binary costs each start that uses the bundled browser
 * 0.7-0.8 s (two busy cores): the price of never launching a binary that anything running as this
 * user replaced or truncated. Machines with a system browser never pay it.
 */
async function unpackedMismatch(dir: string): Promise<string | null> {
  let recorded: Record<string, string>;
  try {
    recorded = JSON.parse(fs.readFileSync(path.join(dir, CHECKSUMS), 'utf8')) as Record<string, string>;
  } catch {
    return `no sha256 record (${CHECKSUMS}) to check it against`;
  }
  const present = runnableFiles(dir);
  for (const file of new Set([...Object.keys(recorded), ...present])) {
    if (!(file in recorded)) return `${file} was not there when it was unpacked`;
    if (!present.includes(file)) return `${file} is missing`;
    if ((await sha256(path.join(dir, file))) !== recorded[file]) return `${file} does not match the sha256 recorded when it was unpacked`;
  }
  return null;
}

/**
 * Unpacks the package's brotli archives once into `<cacheDir>/chromium-<version>/`: the binary,
 * its libraries (`al2023.tar.br`: NSS, which machines without a browser lack) and fonts. Written to
 * a folder of its own first and renamed into place, so a worker stopped halfway, or two starting
 * at once, never leave a half-written browser behind. ~4 s the first time on two cores. The sha256
 * of what runs is recorded then and checked before each reuse: a folder that fails the check is
 * set aside and unpacked again (`replaced` says why).
 */
export async function unpackBundled(bin: string, cacheDir: string): Promise<{ dir: string; replaced?: string }> {
  const dir = path.join(cacheDir, `chromium-${bundledVersion(bin)}`);
  let replaced: string | undefined;
  if (fs.existsSync(dir)) {
    const mismatch = await unpackedMismatch(dir);
    if (mismatch === null) return { dir };
    replaced = mismatch;
    // Renamed first: a worker that reads the folder meanwhile never sees it half-deleted.
    const stale = `${dir}.stale-${process.pid}-${Date.now()}`;
    try {
      fs.renameSync(dir, stale);
      fs.rmSync(stale, { recursive: true, force: true });
    } catch (error) {
      // Another worker set it aside first.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
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
    fs.writeFileSync(path.join(partial, CHECKSUMS), `${JSON.stringify(await checksums(partial), null, 2)}\n`, { mode: 0o600 });
    try {
      fs.renameSync(partial, dir);
    } catch (error) {
      // Another worker finished first: its copy is as good as ours.
      if (!isExecutable(path.join(dir, 'chromium'))) throw error;
    }
  } finally {
    fs.rmSync(partial, { recursive: true, force: true });
  }
  return replaced ? { dir, replaced } : { dir };
}

/** `tar -x` of a brotli-compressed archive: the system's tar (every Linux has one) reads the stream. */
async function untarBrotli(archive: string, into: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const tar = execFile('tar', ['-x', '-f', '-', '-C', into], (error) => (error ? reject(error) : resolve()));
    // tar stops reading at the end-of-archive blocks, before the padding after them: the stream may
    // then end early (EPIPE, premature close; seen under load). tar's exit status is what tells:
    // a stream that failed before the archive's end leaves tar a truncated archive, and it fails.
    pipeline(fs.createReadStream(archive), zlib.createBrotliDecompress(), tar.stdin!).catch(() => undefined);
  });
}
