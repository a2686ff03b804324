import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// After the README's install (`npm ci`, then `npm run build`), `npx wa-sync` and `npx wa-worker`
// work in a checkout: npm links a workspace's bin only if its file exists at install time, so the
// bins are small committed files that load the built code.
const ROOT = path.resolve(__dirname, '..', '..');
const bin = (name: string) => path.join(ROOT, 'node_modules', '.bin', name);

describe('bins on the path of a checkout', () => {
  it.each([
    ['wa-sync', 'packages/cli/bin/wa-sync.js'],
    ['wa-worker', 'packages/worker/bin/wa-worker.js'],
  ])('links %s to its committed bin file', (name, file) => {
    expect(fs.realpathSync(bin(name))).toBe(fs.realpathSync(path.join(ROOT, file)));
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, path.dirname(path.dirname(file)), 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(manifest.bin[name]).toBe(path.relative(path.dirname(path.dirname(file)), file));
  });

  it('runs wa-sync through npx', () => {
    expect(execFileSync('npx', ['--no-install', 'wa-sync', '--version'], { cwd: ROOT, encoding: 'utf8' }).trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('runs wa-worker through npx: without a key it exits 2 with one line', () => {
    let status: number | null = null;
    let stderr = '';
    try {
      execFileSync('npx', ['--no-install', 'wa-worker'], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: 'pipe' });
    } catch (error) {
      status = (error as { status: number }).status;
      stderr = String((error as { stderr: Buffer }).stderr);
    }
    expect(status).toBe(2);
    expect(stderr).toBe('wa-worker: WHATSAPP_NODE_API_KEY: is required\n');
  });
});
