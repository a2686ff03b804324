import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '@wa-session-sync/test-support';

// The production install, run as the Dockerfile runs it (its prod-deps stage's `npm ci` line,
// flags read from the Dockerfile) with a script shell that records every install script npm
// starts: none may run (the only one in the production tree is @scarf/scarf's telemetry).
const ROOT = path.resolve(__dirname, '..', '..');

function dockerfileProductionInstall(): string[] {
  const line = /^RUN (npm ci --omit=dev[^&\n]*)/m.exec(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
  expect(line).toBeDefined();
  return line!.trim().split(/\s+/).slice(1);
}

describe('the production install', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('wa-production-install-');
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs no install script (no @scarf/scarf telemetry), as the Dockerfile and check-image-layout.sh run it', async () => {
    const args = dockerfileProductionInstall();
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
    fs.copyFileSync(path.join(ROOT, 'package-lock.json'), path.join(dir, 'package-lock.json'));
    for (const name of ['shared', 'cli', 'worker']) {
      fs.mkdirSync(path.join(dir, 'packages', name), { recursive: true });
      fs.copyFileSync(path.join(ROOT, 'packages', name, 'package.json'), path.join(dir, 'packages', name, 'package.json'));
    }
    const ran = path.join(dir, 'scripts-run');
    const recorder = path.join(dir, 'record-script.sh');
    fs.writeFileSync(recorder, `#!/bin/sh\necho "$PWD: $*" >> ${ran}\nexec /bin/sh "$@"\n`, { mode: 0o755 });

    await promisify(execFile)('npm', [...args, '--prefer-offline', `--script-shell=${recorder}`, '--loglevel=error'], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PUPPETEER_SKIP_DOWNLOAD: '1' },
      maxBuffer: 16 * 1024 * 1024,
    });

    expect(fs.existsSync(path.join(dir, 'node_modules', '@scarf', 'scarf', 'package.json'))).toBe(true); // installed, never run
    expect(fs.existsSync(ran) ? fs.readFileSync(ran, 'utf8') : '').toBe('');
    expect(fs.readFileSync(path.join(ROOT, 'scripts', 'check-image-layout.sh'), 'utf8')).toContain('npm ci --omit=dev --ignore-scripts');
  }, 180_000);
});
