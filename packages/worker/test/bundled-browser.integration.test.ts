import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cleanEnv, pathWithoutBrowsers, startWorker, tempDir, type WorkerProcess } from '@wa-session-sync/test-support';
import { bundledPackageBin, findBrowser } from '../src/browser/discovery';

// The bundled headless shell is unpacked once into the user's cache and launched from there on
// every start: a binary replaced or cut short there (by anything running as the worker's user)
// must never be launched. Real unpacks of the installed @sparticuz/chromium (~4 s each).
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

let dir: string;

beforeAll(async () => {
  dir = await tempDir('wa-bundled-browser-');
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the unpacked bundled browser', () => {
  it('records the sha256 of what it unpacked, reuses an intact copy, and unpacks a truncated one again', async () => {
    const bundledBin = bundledPackageBin();
    expect(bundledBin).not.toBeNull();
    const options = { searchPath: '', bundledBin, cacheDir: path.join(dir, 'cache') };

    const first = await findBrowser(options);
    const binary = first.executablePath;
    const original = sha256(binary);
    const recorded = JSON.parse(fs.readFileSync(path.join(path.dirname(binary), '.sha256.json'), 'utf8'));
    const inode = fs.statSync(binary).ino;

    expect(first).toMatchObject({ source: 'bundled' });
    expect(first.warning).toBeUndefined();
    expect(recorded.chromium).toBe(original);
    expect(Object.keys(recorded)).toEqual(expect.arrayContaining(['chromium', 'lib/libnss3.so']));

    const reused = await findBrowser(options);
    expect(reused.warning).toBeUndefined();
    expect(fs.statSync(binary).ino).toBe(inode);

    fs.truncateSync(binary, 4096);
    const repaired = await findBrowser(options);

    expect(repaired.executablePath).toBe(binary);
    expect(repaired.warning).toBe(`the unpacked browser in ${path.dirname(binary)} was unpacked again: chromium does not match the sha256 recorded when it was unpacked`);
    expect(sha256(binary)).toBe(original);
    expect(fs.readdirSync(options.cacheDir)).toEqual([path.basename(path.dirname(binary))]);
  }, 90_000);

  it('a worker finding its unpacked binary tampered with unpacks it again and logs a warning', async () => {
    const home = path.join(dir, 'home');
    const logDir = path.join(dir, 'logs');
    const env = { PATH: pathWithoutBrowsers(), HOME: home, LOG_DIR: logDir, WHATSAPP_SESSIONS_DIR: path.join(dir, 'sessions'), WHATSAPP_RESTORE_ON_START: 'false' };
    const baseEnv = { ...cleanEnv(), PUPPETEER_EXECUTABLE_PATH: undefined };
    const start = () => startWorker({ env, baseEnv, listenTimeoutMs: 60_000 });
    let worker: WorkerProcess | undefined;
    try {
      worker = await start();
      await worker.stop();
      worker = undefined;
      const binary = path.join(home, '.cache', 'wa-session-sync', fs.readdirSync(path.join(home, '.cache', 'wa-session-sync')).find((name) => name.startsWith('chromium-'))!, 'chromium');
      const original = sha256(binary);
      const handle = fs.openSync(binary, 'r+');
      fs.writeSync(handle, Buffer.from('not the browser that was unpacked'), 0, 33, 1 << 20); // same size, other bytes
      fs.closeSync(handle);

      worker = await start();

      // Logged before it listens; its stdout carries the same JSON lines as the log file.
      const warnings = worker
        .output()
        .split('\n')
        .filter((line) => line.includes('"message":"Browser"') && line.includes('"level":"warn"'))
        .map((line) => JSON.parse(line));
      expect(warnings).toEqual([expect.objectContaining({ executablePath: binary, warning: expect.stringContaining('chromium does not match the sha256 recorded when it was unpacked') })]);
      expect(sha256(binary)).toBe(original);
    } finally {
      await worker?.stop();
    }
  }, 120_000);
});
