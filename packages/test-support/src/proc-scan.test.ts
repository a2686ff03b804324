import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { cleanEnv, spawnProcess } from './processes';
import { browserTrees, cpuSeconds, isBrowserOn, killProcessesMentioning, privateBytes, privateMemory, processesMentioning } from './proc-scan';
import { waitFor } from './wait';

describe('isBrowserOn', () => {
  const dir = '/tmp/wa-e2e-x/sessions';
  it('takes the browser process on a profile under the folder, not its helpers nor other profiles', () => {
    expect(isBrowserOn(['/usr/lib/chromium/chromium', '--headless', `--user-data-dir=${dir}/1/s1/session`, '--remote-debugging-pipe'], dir)).toBe(true);
    expect(isBrowserOn(['/usr/lib/chromium/chromium', '--type=renderer', `--user-data-dir=${dir}/1/s1/session`], dir)).toBe(false);
    expect(isBrowserOn(['/usr/lib/chromium/chromium', '--user-data-dir=/tmp/elsewhere/session'], dir)).toBe(false);
    expect(isBrowserOn(['node', 'main.js', `--wa-worker-sessions=${dir}`], dir)).toBe(false);
  });
});

describe('privateBytes', () => {
  it('sums Private_Clean and Private_Dirty of smaps_rollup', () => {
    const rollup = [
      '55d0c0a00000-7ffd5a3f1000 ---p 00000000 00:00 0                          [rollup]',
      'Rss:              120000 kB',
      'Shared_Clean:      30000 kB',
      'Private_Clean:      2000 kB',
      'Private_Dirty:     81000 kB',
      'Private_Hugetlb:       0 kB',
    ].join('\n');
    expect(privateBytes(rollup)).toBe(83_000 * 1024);
  });
});

describe('process scans', () => {
  it('find, measure and kill the processes whose command line mentions a marker', async () => {
    const marker = `--test-support-marker=${randomBytes(6).toString('hex')}`;
    // Busy until it has used 0.15 s of CPU (not of wall time: a loaded machine gives it less), then
    // idle until killed.
    const script =
      'const used = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; }; const start = used(); while (used() - start < 0.15); console.log("ready"); setTimeout(() => {}, 60000)';
    const proc = spawnProcess(process.execPath, ['-e', script, '--', marker], { env: cleanEnv() });
    await proc.outputMatching(/ready/);

    expect(processesMentioning(marker)).toEqual([proc.pid]);
    expect(cpuSeconds(marker)).toBeGreaterThan(0.05);
    expect(cpuSeconds([proc.pid])).toBe(cpuSeconds(marker));
    expect(privateMemory(marker)).toBeGreaterThan(1024 * 1024);
    expect(privateMemory([proc.pid])).toBeGreaterThan(1024 * 1024);

    expect(killProcessesMentioning(marker)).toEqual([proc.pid]);
    expect(await proc.exited).toBeNull();
    expect(proc.child.signalCode).toBe('SIGKILL');
    expect(processesMentioning(marker)).toEqual([]);
    expect(cpuSeconds(marker)).toBe(0);
  });
});

describe('browserTrees', () => {
  it('takes every process in the session a browser on the folder leads, its helpers included, and no other', async () => {
    const dir = `/tmp/wa-test-support-${randomBytes(6).toString('hex')}/sessions`;
    const idle = 'setTimeout(() => {}, 60000)';
    // A stand-in browser: it leads a session of its own (puppeteer starts Chromium detached) and
    // forks a helper that, like Chromium's renderers, carries no --user-data-dir.
    const forkHelper = `require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(idle)}, '--', '--type=renderer'], { stdio: 'ignore' }); ${idle}`;
    const browser = spawn(process.execPath, ['-e', forkHelper, '--', `--user-data-dir=${dir}/ws/s1/session`], { detached: true, stdio: 'ignore', env: cleanEnv() });
    // The same kind of helper outside that session, and a browser on another folder.
    const stranger = spawnProcess(process.execPath, ['-e', idle, '--', '--type=renderer'], { env: cleanEnv() });
    const otherBrowser = spawn(process.execPath, ['-e', forkHelper, '--', '--user-data-dir=/tmp/elsewhere/session'], { detached: true, stdio: 'ignore', env: cleanEnv() });
    try {
      const tree = await waitFor(() => {
        const pids = browserTrees(dir);
        return pids.length === 2 && pids;
      }, 'the stand-in browser and its helper');
      expect(tree).toContain(browser.pid);
      expect(tree).not.toContain(stranger.pid);
      expect(tree).not.toContain(otherBrowser.pid);
    } finally {
      for (const leader of [browser, otherBrowser]) process.kill(-leader.pid!, 'SIGKILL');
      stranger.child.kill('SIGKILL');
      await Promise.all([once(browser, 'exit'), once(otherBrowser, 'exit'), stranger.exited]);
    }
  });
});
