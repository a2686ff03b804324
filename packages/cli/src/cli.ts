import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_WATCH_SECONDS, resolveDatabaseConfig, resolveDrainConfig, resolveSyncConfig, type Env, type SyncConfig, type SyncFlags } from './config';
import { isWaSyncError } from './errors';
import { redact } from './redact';

// What a start costs is what it loads: this module loads commander and our own dependency-free
// modules only (config, errors, redact); the handlers, and with them knex, pg, TypeBox and the
// worker client, are loaded once a command is about to run: loading everything up front made
// `wa-sync --help` about four times as slow as `node -e 0` (figures in BENCHMARKS.md).
const commands = () => require('./commands') as typeof import('./commands');

/** Where the CLI reads and writes; the process's own streams in `bin.ts`, fakes in tests. */
export interface CliIo {
  env: Env;
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
}

/** Exit codes from the contract. */
export const EXIT_OK = 0;
export const EXIT_CANNOT_SYNC = 1;
export const EXIT_BAD_USAGE = 2;

/**
 * Runs `wa-sync` with `argv` (without node and the script) and resolves to the exit code.
 * Only wiring lives here: flags into a config, a library call, its result onto the streams.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let exitCode = EXIT_OK;
  const program = new Command('wa-sync')
    .description('Makes the accounts database tell the truth about the WhatsApp worker\'s sessions')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Commander may add a "(Did you mean ...?)" line: keep the error to one line.
      outputError: (text, write) => write(`wa-sync: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`),
    })
    .showSuggestionAfterError(true);

  program.version(packageVersion(), '-V, --version', 'print the version of wa-sync');

  program
    .command('sync-sessions')
    .description('compare the database with the worker, correct statuses, optionally bring sessions back')
    .option('--auto-reconnect', 'ask the worker to start or reconnect sessions that a crash took down')
    .addOption(new Option('--workspace <id>', 'only this workspace\'s accounts and sessions'))
    .option('--dry-run', 'print the plan; send and write nothing')
    .option('--json', 'print one JSON object instead of the report (with --watch: one line per run)')
    .option('--watch [seconds]', `run again every <seconds> (default ${DEFAULT_WATCH_SECONDS}) until SIGTERM/SIGINT, which end it after the current run: a fleet's controller`)
    .action(async (flags: SyncFlags) => {
      const json = flags.json === true;
      let config: SyncConfig;
      try {
        // Resolved before the handlers are loaded: a bad configuration needs nothing heavy.
        config = resolveSyncConfig(flags, io.env, io.stdout.isTTY === true);
      } catch (error) {
        exitCode = fail(error, io, json);
        return;
      }
      if (config.watchSeconds === undefined) {
        try {
          exitCode = await commands().syncSessions(config, io);
        } catch (error) {
          exitCode = fail(error, io, json);
        }
        return;
      }
      exitCode = await commands().watchSyncSessions(config, io, (error) => fail(error, io, json));
    });

  program
    .command('drain')
    .description('keep new sessions off a worker, then move its sessions elsewhere one at a time')
    .argument('<worker_id>', 'the worker, as its /health names it (WHATSAPP_WORKER_ID)')
    .option('--json', 'print one JSON object instead of the report')
    .action(async (workerId: string, flags: { json?: boolean }) => {
      try {
        const config = resolveDrainConfig(flags, io.env);
        exitCode = await commands().drain(config, workerId, io);
      } catch (error) {
        exitCode = fail(error, io, flags.json === true);
      }
    });

  program
    .command('undrain')
    .description('end a drain: the worker takes new sessions again')
    .argument('<worker_id>', 'the worker, as its /health names it (WHATSAPP_WORKER_ID)')
    .option('--json', 'print one JSON object instead of the report')
    .action(async (workerId: string, flags: { json?: boolean }) => {
      try {
        const config = resolveDrainConfig(flags, io.env);
        exitCode = await commands().undrain(config, workerId, io);
      } catch (error) {
        exitCode = fail(error, io, flags.json === true);
      }
    });

  program
    .command('migrate')
    .description('apply the database schema (whatsapp_accounts)')
    .action(async () => {
      try {
        const config = resolveDatabaseConfig(io.env);
        await commands().migrate(config, io);
      } catch (error) {
        exitCode = fail(error, io, false);
      }
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0) return EXIT_OK;
      // Help printed because no command was given counts as bad usage.
      return EXIT_BAD_USAGE;
    }
    return fail(error, io, false);
  }
  return exitCode;
}

/** `version` of packages/cli/package.json (one folder up from src/ and from dist/). */
function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** One line on stderr (and the JSON error object with `--json`), then the error's exit code. */
function fail(error: unknown, io: CliIo, json: boolean): number {
  const known = isWaSyncError(error);
  const code = known ? error.code : 'UNEXPECTED';
  const exitCode = known ? error.exitCode : EXIT_CANNOT_SYNC;
  const message = safeMessage(error, io.env);
  io.stderr.write(`wa-sync: ${message} [${code}]\n`);
  if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: { code, message } })}\n`);
  return exitCode;
}

/** The error's message on one line, with the database password and the API key removed. */
function safeMessage(error: unknown, env: Env): string {
  let message = error instanceof Error ? error.message : String(error);
  if (env.DATABASE_URL) message = redact(message, env.DATABASE_URL);
  for (const secret of [env.WHATSAPP_NODE_API_KEY]) {
    if (secret) message = message.split(secret).join('***');
  }
  return message.replace(/\s*\n\s*/g, ' ').trim() || 'unknown error';
}
