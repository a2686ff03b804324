import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { readStat } from '../browser/proc';
import type { Logger } from '../log';
import { errorMessage } from '../util';

/**
 * Kills a session's browser when its lease could lapse, even if the worker's event loop is
 * blocked (a long synchronous task, a stuck GC, a debugger): the last line of "never two logins
 * at once". The keeper tells it each browser's process group and the moment to kill it.
 */
export interface Watchdog {
  /** Kill process group `pgid` with SIGKILL at `killAtNs` (`process.hrtime.bigint()` time) unless cleared or set again. */
  set(sessionId: string, pgid: number, killAtNs: bigint): void;
  /** Forget the session's browser (it has exited, or its lease was renewed into a new `set`). */
  clear(sessionId: string): void;
  /** Ends the thread. Pending kills are dropped. */
  stop(): Promise<void>;
}

/** The watchdog thread. */
export interface ThreadWatchdog extends Watchdog {
  /**
   * Settles once the first thread runs (tens of ms after the start; it guards nothing before).
   * The worker starts it at boot, long before a browser; tests that block the event loop wait for it.
   */
  online: Promise<void>;
}

/** What the thread is told. */
type Command =
  | { type: 'set'; sessionId: string; pgid: number; killAtNs: bigint }
  | { type: 'clear'; sessionId: string }
  | { type: 'stop' };

/** What the thread reports back. */
type Report = { type: 'killed'; sessionId: string; pgid: number; lateByMs: number } | { type: 'kill_failed'; sessionId: string; pgid: number; error: string };

/**
 * The thread, as plain JavaScript evaluated from a string (`eval: true`), so the same code runs
 * from `dist` and under jest (where no compiled file of its own exists). It checks every 50 ms:
 * twice as often as the 100 ms the lease arithmetic allows for. `process.hrtime.bigint()` reads
 * CLOCK_MONOTONIC, the same clock in every thread of the process.
 */
const THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const CHECK_EVERY_MS = 50;
const browsers = new Map();
function check() {
  const now = process.hrtime.bigint();
  for (const [sessionId, entry] of browsers) {
    if (entry.killAtNs > now) continue;
    browsers.delete(sessionId);
    try {
      process.kill(-entry.pgid, 'SIGKILL');
      parentPort.postMessage({ type: 'killed', sessionId, pgid: entry.pgid, lateByMs: Number(now - entry.killAtNs) / 1e6 });
    } catch (error) {
      // ESRCH: the group is gone already, which is what was wanted.
      if (error && error.code === 'ESRCH') continue;
      parentPort.postMessage({ type: 'kill_failed', sessionId, pgid: entry.pgid, error: String(error && error.message || error) });
    }
  }
}
const timer = setInterval(check, CHECK_EVERY_MS);
parentPort.on('message', (command) => {
  if (command.type === 'set') { browsers.set(command.sessionId, { pgid: command.pgid, killAtNs: command.killAtNs }); check(); }
  else if (command.type === 'clear') browsers.delete(command.sessionId);
  else if (command.type === 'stop') { clearInterval(timer); parentPort.close(); }
});
`;

/**
 * Starts the watchdog thread. It does not keep the process alive (unref), and dies with it. If it
 * ever fails, it is started again with the browsers it was watching, and the failure is logged.
 */
export function startWatchdog(logger: Logger): ThreadWatchdog {
  // The main thread's copy, to hand a restarted thread what it must watch.
  const watched = new Map<string, { pgid: number; killAtNs: bigint }>();
  // Never our own group: a browser launched without `detached` would share it.
  const ownGroup = readStat(process.pid)?.pgid ?? process.pid;
  let stopping = false;
  let thread = spawn();
  // A thread that fails to start is logged by its 'error' listener and started again.
  const online = once(thread, 'online').then(
    () => undefined,
    () => undefined,
  );

  function spawn(): Worker {
    const worker = new Worker(THREAD_SOURCE, { eval: true, stdout: false, stderr: false });
    worker.on('message', (report: Report) => {
      if (report.type === 'killed') {
        watched.delete(report.sessionId);
        logger.warn('Watchdog killed the browser of a session whose lease could lapse', {
          sessionId: report.sessionId,
          pgid: report.pgid,
          lateByMs: Math.round(report.lateByMs),
        });
      } else {
        logger.error(`Watchdog could not kill the browser of a session whose lease could lapse: ${report.error}`, {
          sessionId: report.sessionId,
          pgid: report.pgid,
        });
      }
    });
    worker.on('error', (error) => logger.error(`Lease watchdog thread failed: ${errorMessage(error)}; starting it again`));
    worker.on('exit', () => {
      if (stopping) return;
      thread = spawn();
      for (const [sessionId, entry] of watched) post({ type: 'set', sessionId, ...entry });
    });
    // After the listeners: adding a 'message' listener refs the thread's port again (Node 20).
    worker.unref();
    return worker;
  }

  function post(command: Command): void {
    thread.postMessage(command);
  }

  return {
    online,
    set(sessionId, pgid, killAtNs) {
      if (!Number.isInteger(pgid) || pgid <= 1 || pgid === ownGroup || pgid === process.pid) {
        throw new RangeError(`${pgid} is not a browser's own process group (launch the browser detached)`);
      }
      watched.set(sessionId, { pgid, killAtNs });
      post({ type: 'set', sessionId, pgid, killAtNs });
    },
    clear(sessionId) {
      watched.delete(sessionId);
      post({ type: 'clear', sessionId });
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      watched.clear();
      const exited = once(thread, 'exit');
      post({ type: 'stop' });
      await exited;
    },
  };
}
