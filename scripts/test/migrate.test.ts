import fs from 'node:fs';
import path from 'node:path';
import { fakeWaSync, runScript, SCRIPTS_DIR, useCaseDirs } from './support';

const SCRIPT = 'migrate.sh';
const DATABASE_URL = 'postgres://wa:pg-secret-41@db.internal:6543/accounts';

describe('migrate.sh', () => {
  const cases = useCaseDirs();

  it('runs `wa-sync migrate` and says where, without the password', async () => {
    const waSync = await fakeWaSync(cases.current, { stdout: 'Applied 1 migration\n' });

    const run = await runScript(SCRIPT, [], { DATABASE_URL, WA_SYNC_BIN: waSync.bin });

    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      '==> Applying the wa-sync schema to Postgres at db.internal:6543/accounts\nApplied 1 migration\n==> Schema up to date\n',
    );
    expect((await waSync.calls()).map((c) => c.args)).toEqual([['migrate']]);
    expect(run.stdout + run.stderr).not.toContain('pg-secret-41');
  });

  it('names the embedded database when DATABASE_URL is unset', async () => {
    const waSync = await fakeWaSync(cases.current);

    const run = await runScript(SCRIPT, [], { WA_SYNC_BIN: waSync.bin, WA_SYNC_DATA_DIR: '/var/lib/wa-sync/pglite' });

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('==> Applying the wa-sync schema to the embedded PGlite database in /var/lib/wa-sync/pglite');
  });

  it('takes DATABASE_URL from --env-file', async () => {
    const waSync = await fakeWaSync(cases.current);
    const envFile = path.join(cases.current, '.env');
    await fs.promises.writeFile(envFile, `DATABASE_URL=${DATABASE_URL}\n`);

    const run = await runScript(SCRIPT, ['--env-file', envFile], { WA_SYNC_BIN: waSync.bin });

    expect(run.code).toBe(0);
    expect((await waSync.calls())[0]!.env!.DATABASE_URL).toBe(DATABASE_URL);
  });

  it('fails with exit 1 and a hint when the migration fails', async () => {
    const waSync = await fakeWaSync(cases.current, { exitCode: 1, stderr: 'wa-sync: database unreachable\n' });

    const run = await runScript(SCRIPT, [], { DATABASE_URL, WA_SYNC_BIN: waSync.bin });

    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'wa-sync: database unreachable\nmigrate.sh: wa-sync migrate failed (exit 1): is the database reachable and DATABASE_URL right? See the message above\n',
    );
  });

  it('passes a configuration error through as exit 2', async () => {
    const waSync = await fakeWaSync(cases.current, { exitCode: 2 });

    const run = await runScript(SCRIPT, [], { DATABASE_URL: 'mysql://x', WA_SYNC_BIN: waSync.bin });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('wa-sync migrate rejected its configuration (exit 2)');
  });

  it('says how to get wa-sync when there is none', async () => {
    // A copy of the scripts outside the checkout, and a PATH with node but no wa-sync.
    const copy = path.join(cases.current, 'scripts');
    await fs.promises.mkdir(copy);
    for (const file of ['lib.sh', SCRIPT]) await fs.promises.copyFile(path.join(SCRIPTS_DIR, file), path.join(copy, file));
    const nodeDir = path.dirname(process.execPath);

    const run = await runScript(path.join(copy, SCRIPT), [], { PATH: `${nodeDir}:/usr/bin:/bin` });

    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'migrate.sh: wa-sync not found: build this checkout (npm ci && npm run build), put wa-sync on PATH, or set WA_SYNC_BIN\n',
    );
  });
});
