import os from 'node:os';
import type { ProfileHost } from '../sessions/driver';
import { sleep } from '../util';
import { findProcessesAsync, isRunning, killProcesses } from './orphans';
import { profileDir, profileLockHolder, removeSingletonFiles } from './profile';

/** {@link ProfileHost} on this machine: Chromium's `SingletonLock`, `/proc`, signals. */
export class LocalProfileHost implements ProfileHost {
  /**
   * @param markers the markers (`markerArg`) of the Chromium this worker may kill on a profile:
   *   its own, and the previous worker's on the folder (an orphan still closing a profile). A
   *   process on the profile carrying neither is someone else's and is left alone.
   */
  constructor(private readonly markers: readonly string[]) {}

  async liveHolder(folder: string): Promise<number | null> {
    const holder = await profileLockHolder(profileDir(folder));
    return holder && holder.host === os.hostname() && holder.pid > 0 && isRunning(holder.pid) ? holder.pid : null;
  }

  async waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (isRunning(pid)) {
      if (Date.now() >= deadline) return false;
      await sleep(25);
    }
    return true;
  }

  async killProfileProcesses(folder: string): Promise<number[]> {
    return killProcesses(await findProcessesAsync([`--user-data-dir=${profileDir(folder)}`], this.markers));
  }

  removeStaleLocks(folder: string): Promise<string[]> {
    return removeSingletonFiles(profileDir(folder));
  }
}
