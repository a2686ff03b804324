import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import knexFactory from 'knex';
import { migrateToLatest } from '@wa-session-sync/shared/dist/db/migrations';
import { cleanEnv, createTestDatabase, spawnProcess, startWorker, tempDir, unprivilegedUser, WORKER_BIN, type ProcessResult, type WorkerProcess } from '@wa-session-sync/test-support';

// `wa-worker --check` as an operator (or systemd's ExecStartPre) runs it: the built worker, as the
// service's own user (nobody when the tests are root), in a working directory it cannot write.
const user = unprivilegedUser();
const API_KEY = randomBytes(24).toString('hex');

interface Layout {
  /** The checkout: root's, not writable by the worker (systemd's /opt/wa-session-sync). */
  app: string;
  /** HOME and the sessions folder's parent (StateDirectory=, 0750) and the log folder (LogsDirectory=, 0750). */
  state: string;
  logs: string;
  env: Record<string, string>;
}

let root: string;

beforeAll(async () => {
  root = await tempDir('wa-preflight-');
  fs.chmodSync(root, 0o755); // the worker's user must reach the folders below
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** The systemd unit's layout in a folder of its own. */
function systemdLayout(name: string): Layout {
  const base = path.join(root, name);
  const app = path.join(base, 'app');
  const state = path.join(base, 'state');
  const logs = path.join(base, 'logs');
  for (const dir of [base, app]) fs.mkdirSync(dir, { mode: 0o755 });
  for (const dir of [state, logs]) {
    fs.mkdirSync(dir, { mode: 0o750 });
    if (user) fs.chownSync(dir, user.uid, user.gid);
  }
  return { app, state, logs, env: { HOME: state, WHATSAPP_SESSIONS_DIR: path.join(state, 'sessions'), LOG_DIR: logs } };
}

function check(layout: Layout, env: Record<string, string> = {}): Promise<ProcessResult> {
  return spawnProcess(process.execPath, [WORKER_BIN, '--check'], {
    env: { ...cleanEnv(), WHATSAPP_NODE_API_KEY: API_KEY, ...layout.env, ...env },
    cwd: layout.app,
    user,
  }).done;
}

const lines = (run: ProcessResult) => run.stdout.trim().split('\n');

describe('wa-worker --check', () => {
  it('passes every check in the systemd unit’s layout, as the service’s user, and starts no worker', async () => {
    const layout = systemdLayout('passes');

    const run = await check(layout);

    expect(run.stderr).toBe('');
    expect(lines(run)).toEqual([
      'ok   configuration: every variable is valid',
      `ok   sessions folder: ${layout.env.WHATSAPP_SESSIONS_DIR} writable, mode 700`,
      `ok   log folder: ${layout.logs} writable, mode 750`,
      `ok   web-version cache folder: ${path.join(layout.env.WHATSAPP_SESSIONS_DIR!, '.wwebjs_cache')} writable, mode 700`,
      `ok   folder lock: no other worker holds ${layout.env.WHATSAPP_SESSIONS_DIR}`,
      expect.stringMatching(/^ok {3}browser: \S+ \(\S+\) opened a blank page: HeadlessChrome\/[\d.]+, sandbox (on|off: .+)$/),
      'ok   webhook URL: none set (WHATSAPP_WEBHOOK_URL): no events are sent',
      expect.stringMatching(/^ok {3}memory: \d+ MiB for this worker \(\d+ MiB available now\), enough for the default cap of \d+ sessions x WHATSAPP_SESSION_MEMORY_MB=200 /),
      `ok   auth store: local: the logins are the profiles in ${layout.env.WHATSAPP_SESSIONS_DIR}`,
      'wa-worker --check: all 9 checks passed',
    ]);
    expect(run.code).toBe(0);
    // Nothing of a running worker was left behind: no log file, no profile.
    expect(fs.readdirSync(layout.logs)).toEqual([]);
    expect(fs.readdirSync(layout.env.WHATSAPP_SESSIONS_DIR!).sort()).toEqual(['.wa-worker.lock', '.wwebjs_cache']);
  }, 60_000);

  it('fails naming a sessions folder the service’s user cannot write, and the fix', async () => {
    const layout = systemdLayout('unwritable');
    const rootOwned = path.join(layout.app, 'sessions');
    fs.mkdirSync(rootOwned, { mode: 0o755 });

    const run = await check(layout, { WHATSAPP_SESSIONS_DIR: rootOwned });

    expect(run.code).toBe(1);
    expect(lines(run)).toContainEqual(expect.stringMatching(new RegExp(`^FAIL sessions folder: ${rootOwned} is not writable by \\S+ \\(EACCES\\) -> give \\S+ the folder`)));
    expect(lines(run).at(-1)).toMatch(/^wa-worker --check: \d of 9 checks failed$/);
  }, 60_000);

  it('fails naming a browser that is not there', async () => {
    const layout = systemdLayout('no-browser');

    const run = await check(layout, { PUPPETEER_EXECUTABLE_PATH: path.join(root, 'no-such-chromium') });

    expect(run.code).toBe(1);
    expect(lines(run)).toContainEqual(
      `FAIL browser: none to launch -> PUPPETEER_EXECUTABLE_PATH=${path.join(root, 'no-such-chromium')} is not an executable file: point it at Chromium, or unset it to let the worker find one`,
    );
    expect(lines(run)).toContain('wa-worker --check: 1 of 9 checks failed');
  }, 60_000);

  it('exits 2 on a key under 16 characters, without echoing it, having checked nothing else', async () => {
    const layout = systemdLayout('short-key');

    const run = await check(layout, { WHATSAPP_NODE_API_KEY: 'short-key-123' });

    expect(run.code).toBe(2);
    expect(lines(run)).toEqual([
      'FAIL configuration: WHATSAPP_NODE_API_KEY: must be at least 16 characters (e.g. openssl rand -hex 32)',
      'wa-worker --check: the configuration is refused; nothing else was checked',
    ]);
    expect(run.stdout + run.stderr).not.toContain('short-key-123');
    expect(fs.existsSync(layout.env.WHATSAPP_SESSIONS_DIR!)).toBe(false);
  });

  it('fails while a running worker holds the folder, naming its pid', async () => {
    const layout = systemdLayout('locked');
    let worker: WorkerProcess | undefined;
    try {
      worker = await startWorker({ apiKey: API_KEY, env: { ...layout.env, WHATSAPP_RESTORE_ON_START: 'false' }, cwd: layout.app, user });

      const run = await check(layout);

      expect(run.code).toBe(1);
      expect(lines(run)).toContainEqual(expect.stringMatching(new RegExp(`^FAIL folder lock: another worker \\(pid ${worker.pid}\\) already uses the sessions folder`)));
    } finally {
      await worker?.stop();
    }
  }, 60_000);

  it('exits 2 on an http:// webhook off this host, naming only the host', async () => {
    const layout = systemdLayout('webhook');

    const run = await check(layout, { WHATSAPP_WEBHOOK_URL: 'http://hooks.example.com/wa?token=t0ps3cret', WHATSAPP_WEBHOOK_SECRET: randomBytes(16).toString('hex') });

    expect(run.code).toBe(2);
    expect(lines(run)[0]).toBe(
      'FAIL configuration: WHATSAPP_WEBHOOK_URL: plain http:// to hooks.example.com is refused (session.qr events carry the pairing secret): use https://, or set WHATSAPP_WEBHOOK_ALLOW_HTTP=true on a network you trust',
    );
    expect(run.stdout + run.stderr).not.toContain('t0ps3cret');
  });

  it('fails a memory cap the memory this worker may use cannot hold, naming the cap that fits', async () => {
    const layout = systemdLayout('memory');

    const run = await check(layout, { WHATSAPP_MAX_SESSIONS: '100000' });

    expect(run.code).toBe(1);
    expect(lines(run)).toContainEqual(
      expect.stringMatching(/^FAIL memory: \d+ MiB of memory for this worker, under WHATSAPP_MAX_SESSIONS=100000 x WHATSAPP_SESSION_MEMORY_MB=200 .* -> set WHATSAPP_MAX_SESSIONS=\d+ or less, or give it more memory$/),
    );
    expect(lines(run).at(-1)).toBe('wa-worker --check: 1 of 9 checks failed');
  }, 60_000);

  it('checks the auth store: a database without the tables fails naming wa-sync migrate, never the password; a migrated one passes', async () => {
    const db = await createTestDatabase({ prefix: 'wa_preflight', password: 'pf-s3cret-pw' });
    try {
      const layout = systemdLayout('auth-store');
      const env = { WHATSAPP_AUTH_STORE: 'postgres', DATABASE_URL: db.url, WHATSAPP_WORKER_ID: 'worker-pf' };
      const label = `127.0.0.1:5432/${db.name}`;

      const before = await check(layout, env);
      expect(before.code).toBe(1);
      expect(lines(before)).toContain(
        `FAIL auth store: WHATSAPP_AUTH_STORE=postgres: the database at ${label} has no whatsapp_session_leases, whatsapp_session_auth: run \`wa-sync migrate\` with the same DATABASE_URL first -> start Postgres, check DATABASE_URL (or DATABASE_URL_FILE), and run \`wa-sync migrate\` against it`,
      );
      expect(before.stdout + before.stderr).not.toContain('pf-s3cret-pw');

      const knex = knexFactory({ client: 'pg', connection: db.url });
      await migrateToLatest(knex).finally(() => knex.destroy());
      const after = await check(layout, env);
      expect(lines(after)).toContain(`ok   auth store: postgres at ${label}: reachable, tables in place; worker id worker-pf`);
      expect(after.code).toBe(0);
    } finally {
      await db.drop();
    }
  }, 60_000);
});
