import fs from 'node:fs';
import path from 'node:path';
import { fakeWaSync, runScript, startScript, useCaseDirs, waitFor } from './support';

const SCRIPT = 'sync-loop.sh';

describe('sync-loop.sh', () => {
  const cases = useCaseDirs();

  it('syncs at once and again each interval with the given flags, logging every run, until SIGTERM', async () => {
    const waSync = await fakeWaSync(cases.current);
    const loop = startScript(SCRIPT, ['--auto-reconnect'], { WA_SYNC_BIN: waSync.bin, WA_SYNC_INTERVAL_SECONDS: '1' });

    await waitFor(async () => (await waSync.calls()).length >= 2, 'two wa-sync runs', { intervalMs: 25 });
    loop.child.kill('SIGTERM');
    const run = await loop.done;

    expect(run.code).toBe(0);
    const calls = await waSync.calls();
    expect(calls.map((c) => c.args)).toEqual(calls.map(() => ['sync-sessions', '--auto-reconnect']));
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\] sync-loop: every 1s: wa-sync sync-sessions --auto-reconnect$/);
    expect(run.stdout).toMatch(/sync-loop: run 1 starting\n.*sync-loop: run 1 finished: exit 0 \(\d+s\)\n/);
    expect(run.stdout).toContain('sync-loop: run 2 starting');
    expect(lines.at(-1)).toMatch(/sync-loop: stopped by signal$/);
  });

  it('stops at once on SIGTERM while it waits for the next round', async () => {
    const waSync = await fakeWaSync(cases.current);
    const loop = startScript(SCRIPT, [], { WA_SYNC_BIN: waSync.bin, WA_SYNC_INTERVAL_SECONDS: '3600' });

    // Once run 1 is logged as finished, the loop sleeps for an hour.
    await waitFor(() => /run 1 finished/.test(loop.stdout()), 'run 1 to finish', { intervalMs: 25 });
    loop.child.kill('SIGTERM');
    const run = await loop.done;

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('sync-loop: stopped by signal');
    expect(run.stderr).toBe('');
  });

  it('lets a running sync finish on SIGTERM, then stops without starting another', async () => {
    const release = path.join(cases.current, 'release');
    const waSync = await fakeWaSync(cases.current, { holdUntil: release });
    const loop = startScript(SCRIPT, [], { WA_SYNC_BIN: waSync.bin, WA_SYNC_INTERVAL_SECONDS: '1' });

    await waitFor(async () => (await waSync.calls()).length === 1, 'the first wa-sync run', { intervalMs: 25 });
    loop.child.kill('SIGTERM');
    await fs.promises.writeFile(release, '');
    const run = await loop.done;

    expect(run.code).toBe(0);
    expect((await waSync.calls()).map((c) => c.phase)).toEqual(['started', 'finished']);
    expect(run.stdout).toContain('run 1 finished: exit 0');
    expect(run.stdout).not.toContain('run 2 starting');
  });

  it('logs a failed run and tries again next round', async () => {
    const waSync = await fakeWaSync(cases.current, { exitCodes: [1, 0] });
    const loop = startScript(SCRIPT, [], { WA_SYNC_BIN: waSync.bin, WA_SYNC_INTERVAL_SECONDS: '1' });

    await waitFor(async () => (await waSync.calls()).length >= 2, 'two wa-sync runs', { intervalMs: 25 });
    loop.child.kill('SIGTERM');
    const run = await loop.done;

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/run 1 failed: exit 1 \(\d+s\); next try in the next round/);
    expect(run.stdout).toContain('run 2 starting');
  });

  it('ends with exit 2 when wa-sync rejects its configuration, since retrying cannot help', async () => {
    const waSync = await fakeWaSync(cases.current, { exitCode: 2 });

    const run = await runScript(SCRIPT, ['--workspace', 'bad id'], { WA_SYNC_BIN: waSync.bin });

    expect(run.code).toBe(2);
    expect(run.stdout).toContain('run 1: wa-sync rejected its arguments or configuration (exit 2); fix them and restart. Stopping.');
    expect(await waSync.calls()).toHaveLength(1);
  });

  it('refuses an interval that is not a whole number of seconds', async () => {
    const waSync = await fakeWaSync(cases.current);

    const run = await runScript(SCRIPT, [], { WA_SYNC_BIN: waSync.bin, WA_SYNC_INTERVAL_SECONDS: '5m' });

    expect(run.code).toBe(2);
    expect(run.stderr).toBe('sync-loop.sh: WA_SYNC_INTERVAL_SECONDS must be a whole number of seconds, got: 5m\n');
    expect(await waSync.calls()).toEqual([]);
  });
});
