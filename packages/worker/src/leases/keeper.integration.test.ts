import { spawn } from 'node:child_process';
import { once } from 'node:events';
import winston from 'winston';
import { readStat } from '../browser/proc';
import { MIN_LEASE_TTL_MS } from './deadlines';
import { LeaseKeeper, type LeaseBackend, type LeaseLostReason } from './keeper';

/**
 * The keeper on the real monotonic clock with the real watchdog thread: the kill moments it
 * computes in ms must be the thread's `process.hrtime.bigint()` moments in ns.
 */
describe('LeaseKeeper with the real clock and watchdog (integration)', () => {
  it('has the browser killed before the lease lapses when Postgres hangs and the event loop is blocked', async () => {
    const backend: LeaseBackend = {
      acquire: async () => ({ acquired: true, token: '1' }),
      renew: () => new Promise(() => undefined), // a partition: the statement never answers
      release: async () => true,
    };
    const lost: Array<[string, LeaseLostReason]> = [];
    const keeper = new LeaseKeeper({
      backend,
      ttlMs: MIN_LEASE_TTL_MS,
      logger: winston.createLogger({ silent: true, transports: [new winston.transports.Console()] }),
      onLost: (sessionId, why) => lost.push([sessionId, why]),
    });
    const browser = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    const exited = once(browser, 'exit');
    try {
      keeper.start();
      const sentAtMs = performance.now();
      await keeper.acquire('s1', 'w1');
      keeper.attachBrowser('s1', browser.pid!);
      // Blocked from before the stop (4.5 s) to just before the lapse (6 s): the worker's own
      // stop cannot run, only the thread's kill at 5.25 s can.
      const lapseAtMs = sentAtMs + MIN_LEASE_TTL_MS;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, lapseAtMs - 100 - performance.now());
      expect(readStat(browser.pid!)?.state).toBe('Z');

      const [, signal] = await exited;
      expect(signal).toBe('SIGKILL');
      await new Promise((resolve) => setImmediate(resolve));
      expect(lost).toEqual([['s1', 'deadline']]);
    } finally {
      await keeper.close();
      if (browser.exitCode === null && browser.signalCode === null) {
        process.kill(-browser.pid!, 'SIGKILL');
        await exited;
      }
    }
  }, 20_000);
});
