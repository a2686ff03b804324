import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChromiumNotFoundError } from '../errors';
import { defaultCacheDir, findBrowser, unwrapLauncherScript, type DiscoveryOptions } from './discovery';

let dir: string;
const bins = (name: string) => path.join(dir, name);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-worker-discovery-'));
  for (const name of ['full', 'shell', 'both', 'empty']) fs.mkdirSync(bins(name));
  const exe = (file: string, text = '#!/bin/sh\n') => fs.writeFileSync(file, text, { mode: 0o755 });
  exe(path.join(bins('full'), 'chromium'));
  exe(path.join(bins('full'), 'google-chrome'));
  exe(path.join(bins('shell'), 'real-headless-shell'), '\x7fELF');
  exe(path.join(bins('shell'), 'chromium-headless-shell'), `#!/bin/sh -e\n\n${path.join(bins('shell'), 'real-headless-shell')} "$@"\n`);
  exe(path.join(bins('both'), 'chromium'));
  exe(path.join(bins('both'), 'chrome-headless-shell'), '\x7fELF');
  fs.writeFileSync(path.join(dir, 'not-executable'), '', { mode: 0o644 });
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const options = (o: Partial<DiscoveryOptions>): DiscoveryOptions => ({ searchPath: '', bundledBin: null, cacheDir: path.join(dir, 'cache'), ...o });

describe('findBrowser', () => {
  it('uses PUPPETEER_EXECUTABLE_PATH when it names an executable file, in the mode its name says', async () => {
    expect(await findBrowser(options({ configured: path.join(bins('full'), 'chromium'), searchPath: bins('shell') }))).toMatchObject({
      executablePath: path.join(bins('full'), 'chromium'),
      source: 'PUPPETEER_EXECUTABLE_PATH',
      headless: true,
    });
    expect(await findBrowser(options({ configured: path.join(bins('both'), 'chrome-headless-shell') }))).toMatchObject({ headless: 'shell' });
  });

  it('names a PUPPETEER_EXECUTABLE_PATH that is not executable instead of searching PATH', async () => {
    const configured = path.join(dir, 'not-executable');
    await expect(findBrowser(options({ configured, searchPath: bins('full') }))).rejects.toThrow(ChromiumNotFoundError);
    await expect(findBrowser(options({ configured, searchPath: bins('full') }))).rejects.toThrow(`PUPPETEER_EXECUTABLE_PATH=${configured} is not an executable file`);
  });

  it('prefers a headless shell on PATH to a full Chromium, and runs it in the old headless mode', async () => {
    expect(await findBrowser(options({ searchPath: [bins('full'), bins('both')].join(path.delimiter) }))).toMatchObject({
      executablePath: path.join(bins('both'), 'chrome-headless-shell'),
      source: 'headless-shell',
      headless: 'shell',
    });
  });

  it("launches Debian's headless shell binary itself, not the shell script in front of it", async () => {
    expect(await findBrowser(options({ searchPath: bins('shell') }))).toMatchObject({ executablePath: path.join(bins('shell'), 'real-headless-shell') });
    expect(unwrapLauncherScript(path.join(bins('full'), 'chromium'))).toBe(path.join(bins('full'), 'chromium'));
  });

  it('finds a full Chromium on PATH next, in the new headless mode', async () => {
    expect(await findBrowser(options({ searchPath: `/nonexistent${path.delimiter}${bins('full')}` }))).toMatchObject({
      executablePath: path.join(bins('full'), 'chromium'),
      source: 'chromium',
      headless: true,
      reason: expect.stringContaining('chromium-headless-shell'),
    });
  });

  it('says how to get a browser when there is none and no bundled one', async () => {
    await expect(findBrowser(options({ searchPath: bins('empty') }))).rejects.toThrow('apt-get install chromium-headless-shell');
    await expect(findBrowser(options({ searchPath: bins('empty'), bundledBin: path.join(dir, 'no-such-package') }))).rejects.toThrow(ChromiumNotFoundError);
  });

  it('keeps its cache in the user’s cache folder, not in /tmp', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/c', HOME: '/h' })).toBe('/c/wa-session-sync');
    expect(defaultCacheDir({ HOME: '/h' })).toBe('/h/.cache/wa-session-sync');
  });
});
