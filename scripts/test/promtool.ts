import fs from 'node:fs';
import path from 'node:path';
import { spawnProcess, type ProcessResult } from '@wa-session-sync/test-support';

/**
 * The `promtool` on PATH (Debian's `prometheus` package ships it at /usr/bin/promtool). Throws when
 * there is none: the Prometheus tests fail loudly without it, they never skip.
 */
export function promtoolPath(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, 'promtool');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  throw new Error('promtool is not on PATH: install it (Debian/Ubuntu: apt-get install prometheus) to run the Prometheus tests');
}

/** Runs `promtool <args>` to its end; stdout and stderr together in `output`. */
export async function promtool(args: string[], options: { cwd?: string } = {}): Promise<ProcessResult & { output: string }> {
  const result = await spawnProcess(promtoolPath(), args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, cwd: options.cwd }).done;
  return { ...result, output: `${result.stdout}${result.stderr}` };
}
