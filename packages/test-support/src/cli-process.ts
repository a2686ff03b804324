import path from 'node:path';
import { cleanEnv, spawnProcess, type ProcessResult, type ProcessUser, type RunningProcess } from './processes';

/**
 * The installed `wa-sync` command: its bin file, which runs the bundles `npm run build` writes
 * (dist/wa-sync.js, then dist/wa-sync-commands.js). Same path from src/ and dist/.
 */
export const CLI_BIN = path.resolve(__dirname, '..', '..', 'cli', 'bin', 'wa-sync.js');

export interface CliOptions {
  /** The environment to start from ({@link cleanEnv}); `env` goes on top. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Aborting it sends the CLI SIGTERM. */
  signal?: AbortSignal;
  /** Run the CLI as this user ({@link unprivilegedUser}): what it may not write is then refused by the kernel. */
  user?: ProcessUser;
}

export interface CliResult extends ProcessResult {
  /** stdout parsed, for a run with `--json` whose stdout is JSON. */
  json?: any;
}

/** Starts the built CLI (`node bin/wa-sync.js <args>`). */
export function startCli(args: readonly string[], env: Record<string, string | undefined>, options: CliOptions = {}): RunningProcess {
  return spawnProcess(process.execPath, [CLI_BIN, ...args], { env: { ...(options.baseEnv ?? cleanEnv()), ...env }, signal: options.signal, user: options.user });
}

/** Runs the built CLI to its end. */
export async function runCli(args: readonly string[], env: Record<string, string | undefined>, options: CliOptions = {}): Promise<CliResult> {
  const result: CliResult = await startCli(args, env, options).done;
  if (args.includes('--json')) {
    try {
      result.json = JSON.parse(result.stdout);
    } catch {
      // not JSON (an error line): the test looks at stdout and stderr
    }
  }
  return result;
}
