import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { killProcessesMentioning, spawnProcess, startWorker, unprivilegedUser } from '@wa-session-sync/test-support';
import { spawnWorker, tempDir, waitFor, WORKER_BIN, type WorkerProcess } from './helpers';

// Point 2 of issue 16: no secret in the environment of the running worker, nor of the browser it
// launches. A stand-in browser records both environments (its own and its parent's: the worker's,
// as /proc shows them to any process of the same user) and then waits.

jest.setTimeout(60_000);

const STAND_IN = `#!/bin/sh
{ echo "== args $*"; echo "== browser $$"; tr '\\0' '\\n' < /proc/self/environ
  echo "== worker $PPID"; tr '\\0' '\\n' < /proc/$PPID/environ
  echo "== end"; } >> "$0.record"
while kill -0 $PPID 2>/dev/null; do sleep 0.2; done
`;

let dir: string;
let browser: string;
let worker: WorkerProcess | undefined;
const key = randomBytes(24).toString('hex');
const webhookSecret = randomBytes(24).toString('hex');
const dbPassword = `pw${randomBytes(12).toString('hex')}`;
const databaseUrl = `postgres://wa:${dbPassword}@127.0.0.1:5432/wa`;

beforeEach(async () => {
  dir = await tempDir('secrets');
  browser = path.join(dir, 'stand-in-browser');
  await fs.writeFile(browser, STAND_IN, { mode: 0o755 });
});

afterEach(async () => {
  await worker?.kill('SIGKILL');
  worker = undefined;
  killProcessesMentioning(browser);
  await fs.rm(dir, { recursive: true, force: true });
});

function baseEnv(): Record<string, string> {
  return {
    PUPPETEER_EXECUTABLE_PATH: browser,
    WHATSAPP_SESSIONS_DIR: path.join(dir, 'sessions'),
    LOG_DIR: path.join(dir, 'logs'),
    WHATSAPP_WEBHOOK_URL: 'http://127.0.0.1:9/hook',
    WHATSAPP_WEBJS_WEB_VERSION_CACHE: 'none',
  };
}

async function secretFile(name: string, content: string): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, `${content}\n`, { mode: 0o600 });
  return file;
}

/** Starts a session (the stand-in browser launches) and returns what the stand-in recorded. */
async function recordedEnvironments(running: WorkerProcess): Promise<string> {
  const started = await running.api('POST', '/api/sessions', { session_id: 's1', workspace_id: 'w1' });
  expect(started.status).toBe(201);
  const record = `${browser}.record`;
  return waitFor(
    async () => {
      const text = await fs.readFile(record, 'utf8').catch(() => '');
      return text.includes('== end') ? text : undefined;
    },
    'the stand-in browser recording its environment and its worker\'s',
    15_000,
  );
}

function expectNoSecret(record: string): void {
  expect(record).toMatch(/== browser \d+\n[^]*== worker \d+\nPATH=/);
  for (const secret of [key, webhookSecret, dbPassword]) expect(record).not.toContain(secret);
}

describe('secrets out of reach of the browser', () => {
  it('given in the environment, they are in neither the browser\'s environment nor the running worker\'s', async () => {
    worker = await spawnWorker({ ...baseEnv(), WHATSAPP_NODE_API_KEY: key, WHATSAPP_WEBHOOK_SECRET: webhookSecret, DATABASE_URL: databaseUrl }, key);
    const record = await recordedEnvironments(worker);
    expectNoSecret(record);
    // The worker that launched it is not the process the operator started: that one supervises.
    expect(Number(/== worker (\d+)/.exec(record)![1])).not.toBe(worker.pid);
  });

  it('given as _FILE variables, they are in no environment either', async () => {
    worker = await spawnWorker(
      {
        ...baseEnv(),
        WHATSAPP_NODE_API_KEY: '',
        WHATSAPP_NODE_API_KEY_FILE: await secretFile('api-key', key),
        WHATSAPP_WEBHOOK_SECRET_FILE: await secretFile('webhook-secret', webhookSecret),
      },
      key,
    );
    const record = await recordedEnvironments(worker);
    for (const secret of [key, webhookSecret]) expect(record).not.toContain(secret);
    expect(record).toContain('WHATSAPP_NODE_API_KEY_FILE=');
  });
});

describe('the supervisor of a worker whose secrets were moved out', () => {
  const env = () => ({ ...baseEnv(), WHATSAPP_NODE_API_KEY: key, WHATSAPP_WEBHOOK_SECRET: webhookSecret });

  it('passes SIGTERM on: the worker shuts down gracefully and the supervisor exits 0', async () => {
    worker = await spawnWorker(env(), key);
    expect((await worker.health()).status).toBe('ok');
    expect(await worker.kill('SIGTERM')).toBe(0);
    const { stdout } = await worker.done;
    expect(stdout).toMatch(/"message":"Shutting down","signal":"SIGTERM"[^]*"message":"Stopped"/);
  });

  it('takes the worker with it when it is killed', async () => {
    worker = await spawnWorker(env(), key);
    const running = worker;
    const url = running.url;
    await running.kill('SIGKILL');
    await waitFor(
      () => fetch(`${url}/health`).then(
        () => undefined,
        () => true,
      ),
      'the worker to stop answering once its supervisor was killed',
      5000,
    );
  });

  it('exits 2 with a configuration error before anything starts, never echoing the secret', async () => {
    const file = await secretFile('api-key', key);
    await fs.chmod(file, 0o644);
    const run = spawnProcess(process.execPath, [WORKER_BIN], { env: { PATH: process.env.PATH, ...baseEnv(), WHATSAPP_NODE_API_KEY_FILE: file } });
    const result = await run.done;
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`wa-worker: WHATSAPP_NODE_API_KEY_FILE: ${file} is open to group or others (mode 0644): chmod 600 it\n`);
  });
});

describe("Chromium's sandbox", () => {
  it('is off for a worker run as root, and the log says why', async () => {
    worker = await spawnWorker({ ...baseEnv(), WHATSAPP_WEBHOOK_SECRET: webhookSecret }, key);
    expect(await recordedEnvironments(worker)).toMatch(/^== args .*--no-sandbox/);
    expect(worker.stdout()).toMatch(/"message":"Chromium sandbox off","timestamp":"[^"]+","why":"the worker runs as root[^"]*"/);
  });

  it('stays on for a worker run as a user of its own where user namespaces work, and the log says so', async () => {
    const user = unprivilegedUser();
    await fs.chmod(dir, 0o755);
    await fs.chown(dir, user.uid, user.gid);
    await fs.chown(browser, user.uid, user.gid);
    worker = await startWorker({ apiKey: key, env: { ...baseEnv(), WHATSAPP_WEBHOOK_SECRET: webhookSecret }, user, cwd: dir });
    const record = await recordedEnvironments(worker);
    expect(worker.stdout()).toMatch(/"message":"Chromium sandbox on","timestamp":"[^"]+","why":"unprivileged user namespaces are available"/);
    expect(record).not.toMatch(/^== args .*--no-sandbox/);
  });
});
