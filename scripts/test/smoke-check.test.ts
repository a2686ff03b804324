import fs from 'node:fs';
import path from 'node:path';
import { closedPortUrl, fakeWaSync, healthDocument, runScript, StandIn, useCaseDirs, type Run } from './support';

const SCRIPT = 'smoke-check.sh';
const KEY = 'smoke-key-5e3c1b7f0a9d';
const DATABASE_URL = 'postgres://wa:db-password-77@db.internal:6543/accounts';
const DRY_RUN_REPORT = JSON.stringify({
  dry_run: true,
  summary: { mismatches: 2, reconnected: 0, statuses_updated: 0 },
});

function expectNoSecrets(run: Run) {
  for (const secret of [KEY, 'db-password-77']) {
    expect(run.stdout).not.toContain(secret);
    expect(run.stderr).not.toContain(secret);
  }
}

describe('smoke-check.sh', () => {
  let worker: StandIn;
  let acceptedKey: string;
  const cases = useCaseDirs();

  beforeAll(async () => {
    worker = await StandIn.start((req) => {
      if (req.url === '/health') return { status: 200, body: healthDocument() };
      if (req.url?.startsWith('/api/sessions')) {
        if (req.headers['x-api-key'] !== acceptedKey) {
          return { status: 401, body: { error: { code: 'unauthorized', message: 'missing or wrong API key' } } };
        }
        return {
          status: 200,
          body: {
            sessions: [
              { session_id: 's1', workspace_id: '1', status: 'connected', phone_number: '62811', updated_at: '' },
              { session_id: 's2', workspace_id: '1', status: 'failed', phone_number: null, updated_at: '' },
            ],
          },
        };
      }
      return { status: 404, body: {} };
    });
  });
  afterAll(async () => {
    await worker.stop();
  });
  beforeEach(async () => {
    acceptedKey = KEY;
  });

  const env = (bin: string) => ({ WHATSAPP_NODE_API_KEY: KEY, DATABASE_URL, WA_SYNC_BIN: bin });

  it('passes all three steps against a healthy deployment, and says what each step did', async () => {
    const waSync = await fakeWaSync(cases.current, { stdout: DRY_RUN_REPORT });

    const run = await runScript(SCRIPT, ['--url', worker.url], env(waSync.bin));

    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`==> 1/3 worker health: GET ${worker.url}/health`);
    expect(run.stdout).toContain('OK: wa-worker at');
    expect(run.stdout).toContain('key accepted: 2 sessions listed (1 connected, 1 failed)');
    expect(run.stdout).toContain('==> 3/3 dry-run sync: wa-sync sync-sessions --dry-run --json (Postgres at db.internal:6543/accounts');
    expect(run.stdout).toContain('mismatches found: 2 (dry run: nothing reconnected or written)');
    expect(run.stdout).toMatch(/==> smoke check passed \(3\/3\)\n$/);
    expectNoSecrets(run);
  });

  it('sends the key in the X-API-Key header and hands it to wa-sync through the environment only', async () => {
    const waSync = await fakeWaSync(cases.current, { stdout: DRY_RUN_REPORT });
    const before = worker.requests.length;

    await runScript(SCRIPT, ['--url', worker.url, '--workspace', 'ws_7'], env(waSync.bin));

    const listing = worker.requests.slice(before).find((r) => r.url === '/api/sessions');
    expect(listing?.headers['x-api-key']).toBe(KEY);
    const [call] = await waSync.calls();
    expect(call!.args).toEqual(['sync-sessions', '--dry-run', '--json', '--workspace', 'ws_7']);
    expect(call!.env).toEqual({ WHATSAPP_NODE_API_KEY: KEY, WHATSAPP_NODE_SERVICE_URL: worker.url, DATABASE_URL });
  });

  it('stops at step 2 when the worker rejects the key, without showing it', async () => {
    acceptedKey = 'the-workers-real-key';
    const waSync = await fakeWaSync(cases.current, { stdout: DRY_RUN_REPORT });

    const run = await runScript(SCRIPT, ['--url', worker.url], env(waSync.bin));

    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'smoke check FAILED at step 2/3: the worker rejected the key (HTTP 401): WHATSAPP_NODE_API_KEY here differs from the worker',
    );
    expect(await waSync.calls()).toEqual([]);
    expectNoSecrets(run);
  });

  it('stops at step 1 when the worker is unreachable', async () => {
    const waSync = await fakeWaSync(cases.current, { stdout: DRY_RUN_REPORT });
    const url = await closedPortUrl();

    const run = await runScript(SCRIPT, ['--url', url], env(waSync.bin));

    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`FAIL: wa-worker at ${url} is unreachable (ECONNREFUSED)`);
    expect(run.stderr).toContain('smoke check FAILED at step 1/3: the worker is not healthy');
    expectNoSecrets(run);
  });

  it('stops at step 3 when wa-sync cannot sync, and shows what wa-sync said', async () => {
    const waSync = await fakeWaSync(cases.current, {
      exitCode: 1,
      stderr: 'wa-sync: database unreachable at db.internal:6543/accounts (ECONNREFUSED)\n',
    });

    const run = await runScript(SCRIPT, ['--url', worker.url], env(waSync.bin));

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('    wa-sync: database unreachable at db.internal:6543/accounts (ECONNREFUSED)');
    expect(run.stderr).toContain('smoke check FAILED at step 3/3: wa-sync could not sync (exit 1: worker or database unreachable)');
    expectNoSecrets(run);
  });

  it('fails step 3 when wa-sync exits 0 without a JSON summary', async () => {
    const waSync = await fakeWaSync(cases.current, { stdout: 'Mismatches found: 0\n' });

    const run = await runScript(SCRIPT, ['--url', worker.url], env(waSync.bin));

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('its --json output has no summary.mismatches');
  });

  it('passes step 3 when the sync is skipped because another run holds the lock', async () => {
    const waSync = await fakeWaSync(cases.current, {
      stdout: JSON.stringify({ ok: true, skipped: true, reason: 'another wa-sync run holds the lock' }),
    });

    const run = await runScript(SCRIPT, ['--url', worker.url], env(waSync.bin));

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('sync skipped, which is fine: another wa-sync run holds the lock');
  });

  it('runs only the worker steps with --skip-sync', async () => {
    const waSync = await fakeWaSync(cases.current, { stdout: DRY_RUN_REPORT });

    const run = await runScript(SCRIPT, ['--url', worker.url, '--skip-sync'], { WHATSAPP_NODE_API_KEY: KEY, WA_SYNC_BIN: waSync.bin });

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('==> 2/2 API key');
    expect(run.stdout).toContain('smoke check passed (2/2)');
    expect(await waSync.calls()).toEqual([]);
  });

  it('reads the key and URL from --env-file', async () => {
    const waSync = await fakeWaSync(cases.current, { stdout: DRY_RUN_REPORT });
    const envFile = path.join(cases.current, '.env');
    await fs.promises.writeFile(envFile, `WHATSAPP_NODE_API_KEY=${KEY}\nWHATSAPP_NODE_SERVICE_URL=${worker.url}\nDATABASE_URL=${DATABASE_URL}\n`);

    const run = await runScript(SCRIPT, ['--env-file', envFile], { WA_SYNC_BIN: waSync.bin });

    expect(run.code).toBe(0);
    expectNoSecrets(run);
  });

  it('refuses to start without a key or with a bad workspace id (exit 2)', async () => {
    const noKey = await runScript(SCRIPT, ['--url', worker.url]);
    const badWorkspace = await runScript(SCRIPT, ['--url', worker.url, '--workspace', '1;drop'], { WHATSAPP_NODE_API_KEY: KEY });

    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('WHATSAPP_NODE_API_KEY is not set (export it, or pass --env-file .env)');
    expect(badWorkspace.code).toBe(2);
    expect(badWorkspace.stderr).toContain('--workspace must match');
  });
});
