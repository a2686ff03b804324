import fs from 'node:fs/promises';
import path from 'node:path';
import { cleanEnv, spawnProcess } from '@wa-session-sync/test-support';
import { ended, runInProcess, seedAccounts, startInProcess, startSyncWorld, type SyncWorld } from './support';

// WA_SYNC_METRICS_FILE on the installed command, against a real Postgres and the worker stand-in:
// the file node_exporter's textfile collector reads, after a run that synced, one that failed and
// one that was skipped, checked by promtool as Prometheus would read it.

jest.setTimeout(30_000);

let world: SyncWorld;
let metricsFile: string;
let env: Record<string, string>;

beforeAll(async () => {
  world = await startSyncWorld('wa-sync-metrics-', { migrate: true });
  metricsFile = path.join(world.dir, 'textfile', 'wa_sync.prom');
  await fs.mkdir(path.dirname(metricsFile));
  env = { ...world.env, WA_SYNC_METRICS_FILE: metricsFile };
});

afterAll(async () => {
  await world?.close();
});

beforeEach(async () => {
  world.worker.reset();
  await fs.rm(metricsFile, { force: true });
  // `gone` is connected in the table and unknown to the worker: one mismatch. `stray` runs on the
  // worker and is not in the table: one unknown session.
  await seedAccounts(world.db.client, [{ session_id: 'gone' }]);
  world.worker.report({ session_id: 'stray' });
});

/** The file's samples, name to value. */
async function samples(): Promise<Record<string, number>> {
  const text = await fs.readFile(metricsFile, 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => {
        const [name, value] = line.split(' ');
        return [name, Number(value)];
      }),
  );
}

/** `promtool check metrics < file`: Prometheus' own linter, run as CI runs it. Fails loudly when promtool is not installed. */
async function promtoolCheckMetrics(file: string): Promise<{ code: number | null; output: string }> {
  const promtool = spawnProcess('sh', ['-c', 'command -v promtool >/dev/null || { echo "promtool is not installed (Debian: apt-get install prometheus)"; exit 127; }; promtool check metrics < "$1"', 'sh', file], {
    env: cleanEnv(),
  });
  const result = await ended(promtool.done, `promtool check metrics ${file} to end`);
  return { code: result.code, output: result.stdout + result.stderr };
}

describe('WA_SYNC_METRICS_FILE', () => {
  it('after a run that synced: every metric, the last success now, and promtool accepts the file', async () => {
    const before = Date.now() / 1000;
    const run = await runInProcess(['sync-sessions', '--json'], env);
    const after = Date.now() / 1000;
    expect(run).toMatchObject({ code: 0, stderr: '' });

    const values = await samples();
    expect(values).toEqual({
      wa_sync_last_run_timestamp_seconds: expect.any(Number),
      wa_sync_last_success_timestamp_seconds: values.wa_sync_last_run_timestamp_seconds,
      wa_sync_last_run_duration_seconds: expect.any(Number),
      wa_sync_last_run_success: 1,
      wa_sync_last_run_skipped: 0,
      wa_sync_last_run_mismatches: 1,
      wa_sync_last_run_reconnected: 0,
      wa_sync_last_run_reconnect_failed: 0,
      wa_sync_last_run_given_up: 0,
      wa_sync_last_run_unknown_sessions: 1,
    });
    expect(values.wa_sync_last_run_timestamp_seconds).toBeGreaterThanOrEqual(Math.floor(before * 1000) / 1000);
    expect(values.wa_sync_last_run_timestamp_seconds).toBeLessThanOrEqual(after);
    expect(values.wa_sync_last_run_duration_seconds).toBeGreaterThan(0);
    expect(values.wa_sync_last_run_duration_seconds).toBeLessThan(after - before);

    const text = await fs.readFile(metricsFile, 'utf8');
    expect(text).toContain('# HELP wa_sync_last_success_timestamp_seconds ');
    expect(text).toContain('# TYPE wa_sync_last_success_timestamp_seconds gauge\n');
    expect((await fs.stat(metricsFile)).mode & 0o777).toBe(0o644);
    // Nothing but the file itself is left in the folder node_exporter reads.
    expect(await fs.readdir(path.dirname(metricsFile))).toEqual(['wa_sync.prom']);

    const check = await promtoolCheckMetrics(metricsFile);
    expect(check).toEqual({ code: 0, output: '' });
  });

  it('after a run that failed because the worker is down (exit 1): not successful, the last success kept', async () => {
    expect((await runInProcess(['sync-sessions'], env)).code).toBe(0);
    const synced = await samples();

    world.worker.health = { status: 503, body: { error: { code: 'worker_stopping', message: 'the worker is stopping' } } };
    const failed = await runInProcess(['sync-sessions'], env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('[WORKER_UNAVAILABLE]');
    expect(failed.stderr).not.toContain('warning');

    const values = await samples();
    expect(values).toMatchObject({
      wa_sync_last_run_success: 0,
      wa_sync_last_run_skipped: 0,
      wa_sync_last_success_timestamp_seconds: synced.wa_sync_last_success_timestamp_seconds,
      wa_sync_last_run_mismatches: 1,
      wa_sync_last_run_unknown_sessions: 1,
    });
    expect(values.wa_sync_last_run_timestamp_seconds).toBeGreaterThan(synced.wa_sync_last_run_timestamp_seconds);
    expect(await promtoolCheckMetrics(metricsFile)).toEqual({ code: 0, output: '' });
  });

  it('after a failed run with no file before: no last success at all (the alert sees it absent)', async () => {
    world.worker.health = { status: 503, body: { error: { code: 'worker_stopping', message: 'the worker is stopping' } } };
    expect((await runInProcess(['sync-sessions'], env)).code).toBe(1);
    const values = await samples();
    expect(values.wa_sync_last_run_success).toBe(0);
    expect(values).not.toHaveProperty('wa_sync_last_success_timestamp_seconds');
  });

  it('after a run skipped because another holds the lock: skipped, not successful, the last success kept', async () => {
    expect((await runInProcess(['sync-sessions'], env)).code).toBe(0);
    const synced = await samples();

    world.worker.requests = []; // so that sessionsRequested() waits for the next run's request
    world.worker.stall();
    const first = startInProcess(['sync-sessions', '--json'], env);
    await world.worker.sessionsRequested(); // the first run holds the lock now
    const skipped = await runInProcess(['sync-sessions', '--json'], env);
    expect(skipped).toMatchObject({ code: 0, stderr: '' });
    expect(skipped.json).toMatchObject({ skipped: true });
    const values = await samples();
    expect(values).toMatchObject({
      wa_sync_last_run_success: 0,
      wa_sync_last_run_skipped: 1,
      wa_sync_last_success_timestamp_seconds: synced.wa_sync_last_success_timestamp_seconds,
    });
    expect(await promtoolCheckMetrics(metricsFile)).toEqual({ code: 0, output: '' });

    world.worker.release();
    expect((await first.done).code).toBe(0);
    const after = await samples();
    expect(after).toMatchObject({ wa_sync_last_run_success: 1, wa_sync_last_run_skipped: 0 });
    expect(after.wa_sync_last_success_timestamp_seconds).toBeGreaterThan(synced.wa_sync_last_success_timestamp_seconds);
  });

  it('a configuration error (exit 2) and a dry run write nothing', async () => {
    expect((await runInProcess(['sync-sessions'], env)).code).toBe(0);
    const written = await fs.readFile(metricsFile, 'utf8');

    const badUrl = await runInProcess(['sync-sessions'], { ...env, WHATSAPP_NODE_SERVICE_URL: 'ftp://worker' });
    expect(badUrl.code).toBe(2);
    // The audit log makes its folder: one under a regular file cannot be made.
    const badAuditLog = await runInProcess(['sync-sessions'], { ...env, WA_SYNC_AUDIT_LOG: path.join(metricsFile, 'audit.log') });
    expect(badAuditLog).toMatchObject({ code: 2, stderr: expect.stringContaining('[AUDIT_LOG_UNWRITABLE]') });
    const dryRun = await runInProcess(['sync-sessions', '--dry-run'], env);
    expect(dryRun.code).toBe(0);

    expect(await fs.readFile(metricsFile, 'utf8')).toBe(written);
  });

  it('a file that cannot be written is a warning on stderr, never the run\'s exit code', async () => {
    const unwritable = path.join(world.dir, 'no-metrics-folder', 'wa_sync.prom');
    const synced = await runInProcess(['sync-sessions', '--json'], { ...env, WA_SYNC_METRICS_FILE: unwritable });
    expect(synced.code).toBe(0);
    expect(synced.json).toMatchObject({ ok: true });
    expect(synced.stderr).toBe(`wa-sync: warning: the metrics file ${unwritable} could not be written (ENOENT)\n`);

    world.worker.health = { status: 503, body: { error: { code: 'worker_stopping', message: 'the worker is stopping' } } };
    const failed = await runInProcess(['sync-sessions'], { ...env, WA_SYNC_METRICS_FILE: unwritable });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('could not be written (ENOENT)');
  });

  it('refuses a name node_exporter would never read (exit 2)', async () => {
    const result = await runInProcess(['sync-sessions'], { ...env, WA_SYNC_METRICS_FILE: path.join(world.dir, 'wa_sync.txt') });
    expect(result).toMatchObject({ code: 2, stderr: expect.stringContaining('WA_SYNC_METRICS_FILE must name a file ending in .prom') });
  });
});
