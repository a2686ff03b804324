import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { API_KEY, BIN, runCli, runInProcess, startCli, tempDir, WorkerStandIn } from './support';

// PGlite starts in a few seconds, and this file opens it several times in separate processes.
jest.setTimeout(90_000);

let worker: WorkerStandIn;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  [worker, dir] = await Promise.all([WorkerStandIn.start(), tempDir('wa-sync-embedded-')]);
  env = {
    WHATSAPP_NODE_SERVICE_URL: worker.url,
    WHATSAPP_NODE_API_KEY: API_KEY,
    WA_SYNC_DATA_DIR: path.join(dir, 'pglite'),
    WA_SYNC_AUDIT_LOG: path.join(dir, 'audit.log'),
  };
});

afterAll(async () => {
  await Promise.all([worker?.close(), dir && fs.rm(dir, { recursive: true, force: true })]);
});

/**
 * Runs `script` against the embedded database in a separate node process with the built
 * library (PGlite's WebAssembly loader needs a real module loader, not jest's VM).
 * `script` is the body of `async (knex) => ...`; its JSON result is returned.
 */
async function withEmbedded(script: string): Promise<unknown> {
  const program = `
    const { openDatabase } = require(${JSON.stringify(path.join(path.dirname(BIN), '..', 'dist', 'index.js'))});
    (async () => {
      const dataDir = process.env.WA_SYNC_DATA_DIR;
      const db = await openDatabase({ kind: 'embedded', dataDir, label: dataDir });
      try {
        const result = await (async (knex) => { ${script} })(db.knex);
        process.stdout.write(JSON.stringify(result ?? null));
      } finally {
        await db.close();
      }
    })();`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', program], { env: { ...process.env, ...env } });
  return JSON.parse(stdout);
}

describe('the embedded database (no DATABASE_URL)', () => {
  it('migrates itself, syncs, and refuses a second concurrent process clearly', async () => {
    await withEmbedded(`
      await knex('whatsapp_accounts').insert([
        { workspace_id: '1', session_id: 'gone', status: 'connected' },
        { workspace_id: '1', session_id: 'alive', status: 'disconnected' },
      ]);`);
    worker.report({ session_id: 'alive', status: 'connected', phone_number: '62811801641' });
    worker.stall();
    const first = startCli(['sync-sessions', '--json'], env);
    await worker.sessionsRequested(); // the first process holds the embedded database now

    const refusal = `the embedded database at ${env.WA_SYNC_DATA_DIR} is in use by another wa-sync process; set DATABASE_URL to share a real Postgres`;
    // Refused at the file lock, before PGlite is loaded: these two run in this process.
    const second = await runInProcess(['sync-sessions'], env);
    expect(second).toMatchObject({ code: 0, stderr: '', stdout: `⏭️  Sync skipped: ${refusal}\n` });
    const migrate = await runInProcess(['migrate'], env);
    expect(migrate).toMatchObject({ code: 1, stdout: '', stderr: `wa-sync: ${refusal} [EMBEDDED_DATABASE_LOCKED]\n` });

    worker.release();
    const done = await first.done;
    expect(done).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(done.stdout)).toMatchObject({
      database: { label: `embedded PGlite at ${env.WA_SYNC_DATA_DIR}`, active_accounts: 2 },
      summary: { mismatches: 2, statuses_updated: 2 },
    });
    const rows = await withEmbedded(`return knex('whatsapp_accounts').select('session_id', 'status', 'phone_number').orderBy('session_id');`);
    expect(rows).toEqual([
      { session_id: 'alive', status: 'connected', phone_number: '62811801641' },
      { session_id: 'gone', status: 'disconnected', phone_number: null },
    ]);
  });
});

describe('the embedded database folder', () => {
  it('is its owner\'s alone whatever the umask: folders 0700, files 0600 (umask 000)', async () => {
    const dataDir = path.join(dir, 'private');
    const previous = process.umask(0o000); // the CLI inherits it
    try {
      const migrated = await runCli(['migrate'], { ...env, WA_SYNC_DATA_DIR: dataDir });
      expect(migrated).toMatchObject({ code: 0, stderr: '' });
      const synced = await runCli(['sync-sessions'], { ...env, WA_SYNC_DATA_DIR: dataDir });
      expect(synced).toMatchObject({ code: 0, stderr: '' });
    } finally {
      process.umask(previous);
    }
    let seen = 0;
    const wrong: string[] = [];
    const walk = async (where: string): Promise<void> => {
      const stat = await fs.lstat(where);
      seen += 1;
      if ((stat.mode & 0o777) !== (stat.isDirectory() ? 0o700 : 0o600)) wrong.push(`${where} ${(stat.mode & 0o777).toString(8)}`);
      if (stat.isDirectory()) for (const name of await fs.readdir(where)) await walk(path.join(where, name));
    };
    await walk(dataDir);
    expect(seen).toBeGreaterThan(100);
    expect(wrong).toEqual([]);
    // The lock and its holder's record are gone with the run.
    await expect(fs.stat(`${dataDir}.lock`)).rejects.toThrow(/ENOENT/);
    await expect(fs.stat(`${dataDir}.lock-holder`)).rejects.toThrow(/ENOENT/);
  });
});

describe('a stuck embedded sync', () => {
  it('exits 1 naming the age of a lock its holder took more than WA_SYNC_STUCK_MINUTES ago; a recent holder is an overlap', async () => {
    const dataDir = path.join(dir, 'held');
    // A live holder as proper-lockfile leaves it (a fresh lock folder) and the start it recorded.
    await fs.mkdir(`${dataDir}.lock`, { recursive: true });
    const record = (minutesAgo: number) =>
      fs.writeFile(`${dataDir}.lock-holder`, JSON.stringify({ since: new Date(Date.now() - minutesAgo * 60_000).toISOString(), pid: 4242 }));
    try {
      await record(1);
      // Both answers come before PGlite is loaded: in this process (runInProcess).
      const overlap = await runInProcess(['sync-sessions'], { ...env, WA_SYNC_DATA_DIR: dataDir });
      expect(overlap).toMatchObject({ code: 0, stderr: '' });
      expect(overlap.stdout).toMatch(/^⏭️  Sync skipped: the embedded database at .+ is in use by another wa-sync process/);

      await record(20);
      const stuck = await runInProcess(['sync-sessions'], { ...env, WA_SYNC_DATA_DIR: dataDir });
      expect(stuck.code).toBe(1);
      expect(stuck.stdout).toBe('');
      expect(stuck.stderr).toMatch(
        /^wa-sync: another sync-sessions run \(pid 4242\) has held the lock for 20 min \d+ s, since \S+Z: more than WA_SYNC_STUCK_MINUTES \(15\), a stuck sync \[SYNC_STUCK\]\n$/,
      );
    } finally {
      await fs.rm(`${dataDir}.lock`, { recursive: true, force: true });
      await fs.rm(`${dataDir}.lock-holder`, { force: true });
    }
  });
});
