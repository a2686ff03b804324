import { freePort } from '@wa-session-sync/test-support';
import { accountsBySession, readAuditLines, runCli, seedAccounts, startSyncWorld, type SyncWorld } from './support';

// The installed bin, whole-process: the exit code the shell sees and stderr, for one run of each
// kind (a configuration error, the worker down, a success). Every other behaviour of these paths
// is tested in-process (runInProcess) in failures, sync, bounds and the rest; what is about the
// process itself (bundles, signals, users, memory) is in startup and bounds.
jest.setTimeout(30_000);

let world: SyncWorld;

beforeAll(async () => {
  world = await startSyncWorld('wa-sync-bin-', { migrate: true });
});

afterAll(async () => {
  await world?.close();
});

beforeEach(async () => {
  world.worker.reset();
  await seedAccounts(world.db.client, [{ session_id: 'gone' }]);
});

describe('the installed wa-sync', () => {
  it('exits 2 with one line on stderr on a configuration error', async () => {
    const result = await runCli(['sync-sessions'], { ...world.env, DATABASE_URL: 'host=db password=topsecret' });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^wa-sync: DATABASE_URL is not a valid URL.*\[CONFIG_INVALID\]\n$/);
    expect(result.stderr).not.toContain('topsecret');
  });

  it('exits 1 naming the URL when the worker is down', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(['sync-sessions', '--auto-reconnect'], { ...world.env, WHATSAPP_NODE_SERVICE_URL: url });
    expect(result).toMatchObject({
      code: 1,
      signal: null,
      stdout: '',
      stderr: `wa-sync: the worker is not healthy: ${url}/health refused the connection (is the worker running?) [WORKER_UNAVAILABLE]\n`,
    });
  });

  it('exits 0 after a run that syncs, with its report on stdout and its audit line written', async () => {
    const result = await runCli(['sync-sessions', '--auto-reconnect', '--json'], world.env);
    expect(result).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect(result.json).toMatchObject({ ok: true, summary: { mismatches: 1, reconnected: 1 } });
    expect(world.worker.posts().map((p) => p.url)).toEqual(['/api/sessions']);
    expect((await accountsBySession(world.db.client)).gone.status).toBe('initializing');
    expect((await readAuditLines(world.auditLog)).map((line) => [line.session_id, line.action])).toEqual([['gone', 'start']]);
  });
});
