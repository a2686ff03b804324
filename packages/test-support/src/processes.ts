import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** How a process ended and everything it wrote. */
export interface ProcessResult {
  /** The exit code; null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A child process whose output is kept (stdout, stderr, and both as they came). */
export interface RunningProcess {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr interleaved, in the order they arrived. */
  output(): string;
  /** The exit code (null after a signal), once the process has exited. */
  exited: Promise<number | null>;
  /** Once the process has exited and its output is read to the end; rejects if it could not start. */
  done: Promise<ProcessResult>;
  /**
   * Resolves with the first match of `pattern` in {@link output} as soon as it is written; rejects
   * if the process ends first or after `timeoutMs` (30 s).
   */
  outputMatching(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Sends `signal` (SIGTERM) and resolves with the exit code once it has exited; at once if it already had. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs` (15 s): for a cleanup that must not hang. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  /** The whole environment of the child (see {@link cleanEnv}). */
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Write stdout and stderr straight into this file (appended), as a service's log, instead of
   * through pipes: the child keeps a working stdout if this process dies first (the demo's
   * worker). {@link RunningProcess.output} reads the file back; stdout() and stderr() stay empty.
   */
  logFile?: string;
  /** Aborting it sends the child SIGTERM. */
  signal?: AbortSignal;
  /** Run the child as this user (the tests run as root; production runs as a user of its own). */
  user?: ProcessUser;
}

/** A user id and group id a child runs as. */
export interface ProcessUser {
  uid: number;
  gid: number;
}

/** The checkout these tests run from (test-support sits in `packages/test-support`). */
const CHECKOUT = path.resolve(__dirname, '..', '..', '..');

/**
 * A user without privileges to run a child as, the way a service runs (systemd's `User=`): for
 * the tests of what production does that root would get away with (a working directory it cannot
 * write, files of another user). Tests run as root get the machine's `nobody`; tests run as an
 * ordinary user already are one, and get themselves. `nobody` must reach the built code: every
 * folder above the checkout must let others through (`o+x`); if one does not, this throws naming
 * it (`.ci/run` opens the folders above its clone).
 */
export function unprivilegedUser(): ProcessUser {
  const uid = process.getuid?.();
  if (uid === undefined) throw new Error('unprivilegedUser: needs a POSIX system');
  if (uid !== 0) return { uid, gid: process.getgid!() };
  for (let dir = CHECKOUT; ; dir = path.dirname(dir)) {
    const mode = fs.statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(`${dir} is closed to other users (mode ${(mode & 0o777).toString(8)}), so nobody cannot reach the checkout these tests run the worker from: chmod o+x ${dir}`);
    }
    if (dir === path.dirname(dir)) break;
  }
  return { uid: 65534, gid: 65534 };
}

/** How often {@link RunningProcess.outputMatching} reads a log file back. */
const LOG_FILE_POLL_MS = 25;

/**
 * The environment a test child starts from: PATH, HOME and, when set, PUPPETEER_EXECUTABLE_PATH,
 * so that no WHATSAPP_*, DATABASE_URL or LOG_* of the machine leaks in.
 */
export function cleanEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...(process.env.PUPPETEER_EXECUTABLE_PATH ? { PUPPETEER_EXECUTABLE_PATH: process.env.PUPPETEER_EXECUTABLE_PATH } : {}),
  };
}

/** The child's output: kept from its pipes, or read back from the file it writes. */
interface OutputSource {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  output(): string;
  /** Calls `listener` whenever more output may have arrived; returns the unsubscribe. */
  onOutput(listener: () => void): () => void;
}

function piped(command: string, args: readonly string[], options: SpawnOptions): OutputSource {
  const child = spawn(command, args, { env: options.env, cwd: options.cwd, signal: options.signal, uid: options.user?.uid, gid: options.user?.gid, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let output = '';
  const listeners = new Set<() => void>();
  const take = (append: (chunk: string) => void) => (chunk: string) => {
    append(chunk);
    output += chunk;
    for (const listener of listeners) listener();
  };
  child.stdout!.setEncoding('utf8').on('data', take((chunk) => (stdout += chunk)));
  child.stderr!.setEncoding('utf8').on('data', take((chunk) => (stderr += chunk)));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => output,
    onOutput(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function intoFile(command: string, args: readonly string[], options: SpawnOptions, file: string): OutputSource {
  const fd = fs.openSync(file, 'a');
  const start = fs.fstatSync(fd).size;
  let child: ChildProcess;
  try {
    child = spawn(command, args, { env: options.env, cwd: options.cwd, signal: options.signal, uid: options.user?.uid, gid: options.user?.gid, stdio: ['ignore', fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
  const output = () => {
    try {
      return fs.readFileSync(file).subarray(start).toString('utf8');
    } catch {
      return '';
    }
  };
  return {
    child,
    stdout: () => '',
    stderr: () => '',
    output,
    onOutput(listener) {
      const timer = setInterval(listener, LOG_FILE_POLL_MS);
      return () => clearInterval(timer);
    },
  };
}

export function spawnProcess(command: string, args: readonly string[], options: SpawnOptions): RunningProcess {
  const source = options.logFile ? intoFile(command, args, options, options.logFile) : piped(command, args, options);
  const { child } = source;

  // 'error' without a pid: it never started (no 'exit' follows). An aborted signal also emits
  // 'error', but that child is being killed and exits as usual.
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.on('error', () => child.pid === undefined && resolve(null));
  });
  const done = new Promise<ProcessResult>((resolve, reject) => {
    child.on('error', (error) => child.pid === undefined && reject(error));
    child.once('close', (code, signal) => resolve({ code, signal, stdout: source.stdout(), stderr: source.stderr() }));
  });
  done.catch(() => undefined); // a caller that only awaits `exited` must not see an unhandled rejection
  const closed = done.then(
    () => undefined,
    () => undefined,
  );

  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    if (!hasExited()) child.kill(signal);
    return exited;
  };

  return {
    child,
    pid: child.pid!,
    stdout: source.stdout,
    stderr: source.stderr,
    output: source.output,
    exited,
    done,
    outputMatching(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        let settled = false;
        const finish = (settle: () => void) => {
          if (settled) return;
          settled = true;
          unsubscribe();
          clearTimeout(timer);
          settle();
        };
        const check = () => {
          const match = pattern.exec(source.output());
          if (match) finish(() => resolve(match));
        };
        const unsubscribe = source.onOutput(check);
        const timer = setTimeout(
          () => finish(() => reject(new Error(`no ${pattern} in the output of ${command} within ${timeoutMs} ms:\n${source.output().slice(-2000)}`))),
          timeoutMs,
        );
        check();
        void closed.then(() => {
          check(); // what it wrote last
          const how = child.exitCode ?? child.signalCode;
          finish(() => reject(new Error(`${command} exited (${how}) before writing ${pattern}:\n${source.output().slice(-2000)}`)));
        });
      });
    },
    kill,
    async stop(graceMs = 15_000) {
      if (hasExited()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
