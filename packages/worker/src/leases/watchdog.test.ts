import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { waitFor } from '@wa-session-sync/test-support';
import { readStat } from '../browser/proc';
import { startWatchdog, type ThreadWatchdog } from './watchdog';
import { recordingLogger } from '../../test/recording-logger';


/** Blocks this thread's event loop (no timer, message or I/O callback runs) for `ms`. */
function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A stand-in browser: `sleep 60` leading its own process group, as puppeteer launches Chromium. */
function startStandInBrowser(): ChildProcess & { pid: number } {
  const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('could not start sleep');
  return child as ChildProcess & { pid: number };
}

const msFromNow = (ms: number): bigint => process.hrtime.bigint() + BigInt(ms) * 1_000_000n;

describe('lease watchdog (a real thread, a real process group)', () => {
  let watchdog: ThreadWatchdog | undefined;
  const children: ChildProcess[] = [];

  afterEach(async () => {
    await watchdog?.stop();
    watchdog = undefined;
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        process.kill(-child.pid!, 'SIGKILL');
        await exited;
      }
    }
  });

  it('SIGKILLs the browser group at its kill moment while the main event loop is blocked', async () => {
    const { logger, lines } = recordingLogger();
    watchdog = startWatchdog(logger);
    await watchdog.online;
    const browser = startStandInBrowser();
    children.push(browser);
    const exited = once(browser, 'exit');

    watchdog.set('s1', browser.pid, msFromNow(300));
    blockEventLoop(1500);
    // Still blocked as far as this thread is concerned: nothing has reaped the child yet, so a
    // killed one is a zombie. It can only have been killed by the other thread.
    expect(readStat(browser.pid)?.state).toBe('Z');

    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
    const line = await waitFor(() => lines.find((l) => l.level === 'warn'), 'the kill reported');
    expect(line).toMatchObject({
      message: 'Watchdog killed the browser of a session whose lease could lapse',
      sessionId: 's1',
      pgid: browser.pid,
    });
  });

  it('leaves a browser alone once cleared, or set again to a later moment (a renewal)', async () => {
    const { logger, lines } = recordingLogger();
    watchdog = startWatchdog(logger);
    await watchdog.online;
    const cleared = startStandInBrowser();
    const renewed = startStandInBrowser();
    children.push(cleared, renewed);

    watchdog.set('cleared', cleared.pid, msFromNow(300));
    watchdog.set('renewed', renewed.pid, msFromNow(300));
    watchdog.clear('cleared');
    watchdog.set('renewed', renewed.pid, msFromNow(60_000));
    blockEventLoop(1500);

    // Alive: not a zombie (a just-started process may be running, sleeping or in disk wait).
    expect(readStat(cleared.pid)?.state).toMatch(/^[^ZX]$/);
    expect(readStat(renewed.pid)?.state).toMatch(/^[^ZX]$/);
    expect(lines).toEqual([]);
  });

  it('does not keep the process alive', () => {
    const ports = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort' || r === 'Worker').length;
    const before = ports();
    watchdog = startWatchdog(recordingLogger().logger);
    watchdog.set('s1', 999_999, msFromNow(60_000));
    expect(ports()).toBe(before);
  });

  it('refuses to watch this process group (a browser that was not launched detached)', () => {
    watchdog = startWatchdog(recordingLogger().logger);
    expect(() => watchdog!.set('s1', process.pid, msFromNow(0))).toThrow(/launch the browser detached/);
  });
});
