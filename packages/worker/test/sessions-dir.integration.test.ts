import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { cleanEnv, spawnProcess, startWorker, type WorkerProcess } from '@wa-session-sync/test-support';
import { LOCK_FILE } from '../src/browser/dir-lock';
import { markerArg } from '../src/browser/launch';
import { processesMentioning, tempDir, waitFor, WORKER_BIN } from './helpers';

// The built worker as a process, without sessions: what it does with its sessions folder's lock
// and with the processes that name the folder, before any Chromium of its own.
jest.setTimeout(60_000);

// No session is started here, so no browser is launched: any executable passes the worker's
// browser discovery, on a machine with or without Chromium.
const BROWSER = { PUPPETEER_EXECUTABLE_PATH: process.execPath };

describe('the sessions folder of a worker process', () => {
  let dir: string;
  let sessionsDir: string;
  const workers: WorkerProcess[] = [];

  const env = (extra: Record<string, string> = {}) => ({ ...BROWSER, WHATSAPP_SESSIONS_DIR: sessionsDir, LOG_DIR: path.join(dir, 'logs'), ...extra });
  const start = async (extra: Record<string, string> = {}) => {
    const worker = await startWorker({ env: env(extra) });
    workers.push(worker);
    return worker;
  };
  /** Runs the worker to its end (it must exit at start): its exit code and stderr. */
  const run = async (baseEnv: NodeJS.ProcessEnv) => {
    const proc = spawnProcess(process.execPath, [WORKER_BIN], { env: { ...baseEnv, PORT: '0', WHATSAPP_NODE_API_KEY: randomBytes(24).toString('hex'), ...env() } });
    const timer = setTimeout(() => void proc.kill('SIGKILL'), 20_000);
    const result = await proc.done;
    clearTimeout(timer);
    return result;
  };

  beforeEach(async () => {
    dir = await tempDir('dirlock');
    sessionsDir = path.join(dir, 'sessions');
  });

  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop(5000);
    for (const pid of processesMentioning(dir)) process.kill(pid, 'SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('refuses to start without flock on PATH (exit 1 naming it) instead of running unlocked', async () => {
    const emptyPath = path.join(dir, 'bin');
    await fs.mkdir(emptyPath);
    const result = await run({ ...cleanEnv(), PATH: emptyPath });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      `wa-worker: cannot lock the sessions folder ${sessionsDir}: flock was not found on PATH (${emptyPath}): install util-linux (apt-get install util-linux), or put flock on PATH`,
    ]);
  });

  it('refuses a lock file that is a symlink, leaving its target untouched', async () => {
    await fs.mkdir(sessionsDir, { recursive: true });
    const target = path.join(dir, 'precious.txt');
    await fs.writeFile(target, 'keep me\n');
    await fs.symlink(target, path.join(sessionsDir, LOCK_FILE));
    const result = await run(cleanEnv());
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`wa-worker: ${path.join(sessionsDir, LOCK_FILE)} is a symbolic link; the lock file ${path.join(sessionsDir, LOCK_FILE)} must be a regular file owned by this worker's user`);
    expect(await fs.readFile(target, 'utf8')).toBe('keep me\n');
  });

  it("refuses a lock file that is a hard link, or another user's, changing neither", async () => {
    await fs.mkdir(sessionsDir, { recursive: true });
    const lockFile = path.join(sessionsDir, LOCK_FILE);
    const target = path.join(dir, 'precious.txt');
    await fs.writeFile(target, 'keep me\n');
    await fs.link(target, lockFile);
    const linked = await run(cleanEnv());
    expect(linked.code).toBe(1);
    expect(linked.stderr).toContain(`wa-worker: ${lockFile} has 2 hard links; the lock file`);
    expect(await fs.readFile(target, 'utf8')).toBe('keep me\n');

    await fs.rm(lockFile);
    await fs.writeFile(lockFile, '{"pid":1}\n');
    await fs.chown(lockFile, 65534, 65534); // the tests run as root (as the image's build does)
    const foreign = await run(cleanEnv());
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain(`wa-worker: ${lockFile} is owned by uid 65534; the lock file`);
    expect(await fs.readFile(lockFile, 'utf8')).toBe('{"pid":1}\n');
  });

  it("reaps only the earlier worker's own Chromium: a process of anyone else naming the folder survives", async () => {
    const earlier = await start();
    await earlier.kill('SIGKILL');
    const { token } = JSON.parse(readFileSync(path.join(sessionsDir, LOCK_FILE), 'utf8')) as { token: string };
    expect(token).toMatch(/^[0-9a-f]{32}$/);

    const sleeper = (marker: string) => {
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', '--', marker], { detached: true, stdio: 'ignore' });
      return { child, gone: new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal))) };
    };
    // The marker before tokens (any process that names the folder that way), and the earlier worker's.
    const foreign = sleeper(`--wa-worker-sessions=${sessionsDir}`);
    const orphan = sleeper(markerArg(sessionsDir, token));
    await waitFor(() => processesMentioning(dir).length === 2, 'the two processes to run');

    const worker = await start();
    expect(await orphan.gone).toBe('SIGKILL');
    // The worker has dealt with the earlier worker's Chromium: it logged the reaping done.
    await waitFor(() => worker.output().includes('Chromium of the earlier worker gone'), 'the reaping to finish');
    expect(foreign.child.exitCode).toBeNull();
    expect(foreign.child.signalCode).toBeNull();
    const after = JSON.parse(readFileSync(path.join(sessionsDir, LOCK_FILE), 'utf8')) as { token: string; pid: number };
    expect(after).toMatchObject({ pid: worker.pid });
    expect(after.token).not.toBe(token);
    foreign.child.kill('SIGKILL');
  });

  it('never deletes through a link out of the sessions folder: a logout of a session whose workspace folder is a symlink leaves its target intact', async () => {
    const outside = path.join(dir, 'elsewhere');
    const manifest = JSON.stringify({ workspace_id: 'w1', session_id: 's1', desired: 'stopped', phone_number: null, updated_at: '' });
    await fs.mkdir(path.join(outside, 's1', 'session'), { recursive: true });
    await fs.writeFile(path.join(outside, 's1', 'session.json'), manifest);
    await fs.writeFile(path.join(outside, 's1', 'session', 'Cookies'), 'saved login');
    await fs.mkdir(sessionsDir, { recursive: true });
    await fs.symlink(outside, path.join(sessionsDir, 'w1'));

    const worker = await start();
    const answer = await worker.api('DELETE', '/api/sessions/s1?logout=true');
    expect(answer.status).toBe(500);
    expect(answer.json.error.message).toContain('leads out of the sessions folder through a symbolic link');
    expect(await fs.readFile(path.join(outside, 's1', 'session', 'Cookies'), 'utf8')).toBe('saved login');
    expect(await fs.readFile(path.join(outside, 's1', 'session.json'), 'utf8')).toBe(manifest);
  });
});
