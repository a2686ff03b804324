import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileLockOwners, findProcesses, groupMembers as processGroups, killProcesses, reapOrphans } from '../src/browser/orphans';
import { lowerProcessTreePriority } from '../src/browser/priority';
import { tempDir, waitFor } from './helpers';

describe('browser priority', () => {
  it('renices every thread of a process and its descendants, and its session autogroup', async () => {
    const child = spawn('sh', ['-c', 'sleep 30 & sleep 30; wait'], { detached: true, stdio: 'ignore' });
    try {
      await waitFor(() => fs.readFile(`/proc/${child.pid}/task/${child.pid}/stat`).then(() => true), 'the group');
      await new Promise((r) => setTimeout(r, 100)); // both sleeps forked
      expect(await lowerProcessTreePriority(child.pid!, 7)).toBeGreaterThanOrEqual(3);
      const nices = await Promise.all(
        (processGroups(new Set([child.pid!])).get(child.pid!) ?? []).map(async (pid) => Number((await fs.readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')[16])),
      );
      expect(nices).toEqual([7, 7, 7]);
      // `detached` made the shell a session leader: its autogroup (where the kernel has them) goes down too.
      const autogroup = await fs.readFile(`/proc/${child.pid}/autogroup`, 'utf8').catch(() => null);
      if (autogroup !== null) expect(autogroup).toMatch(/ nice 7$/m);
    } finally {
      process.kill(-child.pid!, 'SIGKILL');
    }
  });
});

describe('killing a process found earlier', () => {
  it('leaves alone a pid whose start time is no longer the one found (the pid was reused), and kills the one found', async () => {
    const dir = await tempDir('reuse');
    const marker = `--wa-worker-test-reuse=${dir}`;
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', '--', marker], { detached: true, stdio: 'ignore' });
    const gone = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    try {
      const [found] = await waitFor(() => {
        const matched = findProcesses([marker]);
        return matched.length === 1 ? matched : undefined;
      }, 'the process to be found');
      // What a list read before the pid was reused holds: the same pid, another process's start time.
      expect(killProcesses([{ ...found!, startTicks: found!.startTicks - 1 }])).toEqual([]);
      expect(child.exitCode).toBeNull();
      expect(child.signalCode).toBeNull();
      expect(killProcesses([found!])).toEqual([child.pid]);
      expect(await gone).toBe('SIGKILL');
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('orphaned Chromium of an earlier worker', () => {
  /** A member of process group `pgid` holds a file lock. */
  const holdsLock = (pgid: number) => {
    const owners = fileLockOwners()!;
    return processGroups(new Set([pgid])).get(pgid)!.some((pid) => owners.has(pid));
  };

  it('kills each as soon as it holds no file lock (its stores closed), and a hung one after the grace', async () => {
    const dir = await tempDir('reap');
    const marker = `--wa-worker-test-orphan=${dir}`;
    const lock = path.join(dir, 'store.lock');
    const start = (script: string) => {
      const child = spawn('sh', ['-c', script, 'sh', marker], { detached: true, stdio: 'ignore' });
      return { child, gone: new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal))) };
    };
    const done = start('sleep 30'); // stores already closed
    const closing = start(`flock ${lock}.1 sleep 0.4; sleep 30`); // flushes for 0.4 s, then only tears down
    const hung = start(`flock ${lock}.2 sleep 30`); // never closes its stores
    try {
      await waitFor(() => holdsLock(closing.child.pid!) && holdsLock(hung.child.pid!), 'the orphans to lock their stores');
      const started = Date.now();
      const result = await reapOrphans(findProcesses([marker]), { graceMs: 1500 });
      expect(result).toEqual({ saved: expect.arrayContaining([done.child.pid, closing.child.pid]), forced: [hung.child.pid], exited: [] });
      expect(result.saved).toHaveLength(2);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
      expect(await Promise.all([done.gone, closing.gone, hung.gone])).toEqual(['SIGKILL', 'SIGKILL', 'SIGKILL']);
    } finally {
      for (const { child } of [done, closing, hung]) {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('does not kill one before its lock is released', async () => {
    const dir = await tempDir('reap');
    const marker = `--wa-worker-test-orphan=${dir}`;
    const child = spawn('sh', ['-c', `flock ${path.join(dir, 'store.lock')} sleep 0.6; sleep 30`, 'sh', marker], { detached: true, stdio: 'ignore' });
    try {
      await waitFor(() => holdsLock(child.pid!), 'the orphan to lock its store');
      const started = Date.now();
      const result = await reapOrphans(findProcesses([marker]), { graceMs: 10_000 });
      expect(result.saved).toEqual([child.pid]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(300); // waited for the lock to go
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
