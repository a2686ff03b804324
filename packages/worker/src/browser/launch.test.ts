import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChromiumNotFoundError } from '../errors';
import { browserArgs, findChromium, markerArg } from './launch';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-worker-launch-'));
  fs.writeFileSync(path.join(dir, 'chromium'), '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'not-executable'), '', { mode: 0o644 });
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('findChromium', () => {
  it('uses PUPPETEER_EXECUTABLE_PATH when it names an executable file', () => {
    expect(findChromium(path.join(dir, 'chromium'), '')).toBe(path.join(dir, 'chromium'));
  });

  it('names a PUPPETEER_EXECUTABLE_PATH that is not executable instead of searching PATH', () => {
    const configured = path.join(dir, 'not-executable');
    expect(() => findChromium(configured, dir)).toThrow(ChromiumNotFoundError);
    expect(() => findChromium(configured, dir)).toThrow(`PUPPETEER_EXECUTABLE_PATH=${configured} is not an executable file`);
  });

  it('finds chromium on PATH, and says how to install it when there is none', () => {
    expect(findChromium(undefined, `/nonexistent${path.delimiter}${dir}`)).toBe(path.join(dir, 'chromium'));
    expect(() => findChromium(undefined, '/nonexistent')).toThrow('apt-get install chromium');
  });
});

describe('browser arguments', () => {
  it('launches Chromium with the orphan marker and the extra arguments last', () => {
    const args = browserArgs({ sessionsDir: '/srv/s', extraArgs: ['--x'], isRoot: true });
    expect(args[0]).toBe('--no-sandbox');
    expect(args).toContain(markerArg('/srv/s'));
    expect(args[args.length - 1]).toBe('--x');
    expect(browserArgs({ sessionsDir: '/srv/s', extraArgs: [], isRoot: false })).not.toContain('--no-sandbox');
  });
});
