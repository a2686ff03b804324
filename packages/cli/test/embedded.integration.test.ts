import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { API_KEY, BIN, runCli, startCli, tempDir, WorkerStandIn } from './support';

// PGlite starts in a few seconds, and this test opens it five times in separate processes.
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
    const second = await runCli(['sync-sessions'], env);
    expect(second).toMatchObject({ code: 0, stderr: '', stdout: `⏭️  Sync skipped: ${refusal}\n` });
    const migrate = await runCli(['migrate'], env);
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
