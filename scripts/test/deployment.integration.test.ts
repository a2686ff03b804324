import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from 'pg';
import { createTestDatabase, startWorker, type TestDatabase, type WorkerProcess } from '@wa-session-sync/test-support';
import { runScript, startScript, tempDir, waitFor } from './support';

// The operator scripts against the real built wa-worker and wa-sync (`npm test` builds first)
// and a fresh database on the real Postgres: what an operator runs after a deployment.
const API_KEY = `deploy-key-${randomBytes(6).toString('hex')}`;

describe('operator scripts against a running deployment', () => {
  let database: string;
  // Trust auth ignores the password; it is there to prove that no script prints it.
  let databaseUrl: string;
  let dir: string;
  let testDatabase: TestDatabase;
  let worker: WorkerProcess | undefined;
  let db: Client;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await tempDir();
    testDatabase = await createTestDatabase({ prefix: 'wa_scripts_test' });
    ({ name: database, client: db } = testDatabase);
    databaseUrl = `postgres://postgres:pw-${database}@127.0.0.1:5432/${database}`;

    worker = await startWorker({
      apiKey: API_KEY,
      env: { HOME: dir, WHATSAPP_SESSIONS_DIR: path.join(dir, 'sessions'), LOG_DIR: path.join(dir, 'logs') },
    });
    env = {
      WHATSAPP_NODE_API_KEY: API_KEY,
      WHATSAPP_NODE_SERVICE_URL: worker.url,
      DATABASE_URL: databaseUrl,
      WA_SYNC_AUDIT_LOG: path.join(dir, 'logs', 'wa-sync-audit.log'),
    };
  }, 30_000);

  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await testDatabase?.drop();
    await fs.promises.rm(dir, { recursive: true, force: true });
  });

  const expectNoSecrets = (text: string) => {
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain(`pw-${database}`);
  };

  it('migrate.sh creates the schema, and a second run finds it up to date', async () => {
    const first = await runScript('migrate.sh', [], env);
    const second = await runScript('migrate.sh', [], env);

    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`==> Applying the wa-sync schema to Postgres at 127.0.0.1:5432/${database}`);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('Schema is up to date');
    const table = await db.query("SELECT to_regclass('whatsapp_accounts') AS name");
    expect(table.rows[0].name).toBe('whatsapp_accounts');
    expectNoSecrets(first.stdout + first.stderr + second.stdout + second.stderr);
  });

  it('check-worker-health.sh reads the real /health', async () => {
    const run = await runScript('check-worker-health.sh', [], env);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^OK: wa-worker at http:\/\/127\.0\.0\.1:\d+ is up \(uptime \d+s, version [^)]+\): 0 sessions, 0 connected\n$/);
  });

  it('smoke-check.sh passes its three steps, and fails at step 2 with another key', async () => {
    const good = await runScript('smoke-check.sh', [], env);
    const wrongKey = await runScript('smoke-check.sh', [], { ...env, WHATSAPP_NODE_API_KEY: 'not-the-key' });

    expect(good.code).toBe(0);
    expect(good.stdout).toContain('mismatches found: 0 (dry run: nothing reconnected or written)');
    expect(good.stdout).toContain('==> smoke check passed (3/3)');
    expectNoSecrets(good.stdout + good.stderr);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('smoke check FAILED at step 2/3: the worker rejected the key (HTTP 401)');
  });

  it('sync-loop.sh runs the real sync (the compose wa-sync service) and stops on SIGTERM', async () => {
    await db.query(
      "INSERT INTO whatsapp_accounts (workspace_id, session_id, status, phone_number) VALUES ('1', 'webjs_1_loop', 'connected', '62811801641')",
    );
    const loop = startScript('sync-loop.sh', [], { ...env, NO_COLOR: '1' });

    await waitFor(() => /run 1 (finished|failed)/.test(loop.stdout()) || loop.child.exitCode !== null, 'run 1 to end', { intervalMs: 25 });
    loop.child.kill('SIGTERM');
    const run = await loop.done;

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Mismatches found: 1');
    expect(run.stdout).toContain('run 1 finished: exit 0');
    const row = await db.query("SELECT status FROM whatsapp_accounts WHERE session_id = 'webjs_1_loop'");
    expect(row.rows[0].status).toBe('disconnected');
    expectNoSecrets(run.stdout + run.stderr);
  });
});
