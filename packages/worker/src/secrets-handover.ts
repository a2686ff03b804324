// Secrets given in the environment leave it before the worker runs. Linux shows a process's
// initial environment in /proc/<pid>/environ to every process of the same user (Chromium included,
// and with --no-sandbox a compromised renderer), and deleting from process.env does not change it.
// Node cannot exec itself in place, so the process the operator started stays as a small
// supervisor: it starts the worker again without those variables, hands their values over a pipe
// (read once), forwards signals and exits as the worker does.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { SECRET_VARIABLES } from './secrets';

/** Names the pipe (a file descriptor) the worker reads its handed-over secrets from. */
const HANDOVER_FD_VARIABLE = 'WA_WORKER_SECRETS_FD';
const HANDOVER_FD = 3;

/** Signals the supervisor passes on: a service manager's stop, a terminal's ^C, a hang-up. */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** The secret variables set (non-empty) in `env`. */
export function secretsIn(env: NodeJS.ProcessEnv): Record<string, string> {
  const found: Record<string, string> = {};
  for (const name of SECRET_VARIABLES) {
    const value = env[name];
    if (value) found[name] = value;
  }
  return found;
}

/**
 * Runs this same program again without the secret variables, hands them over, and mirrors its
 * end: the exit code, or the signal that ended it. Never returns.
 */
export function superviseWithoutSecrets(secrets: Record<string, string>): Promise<never> {
  const env: NodeJS.ProcessEnv = { ...process.env, [HANDOVER_FD_VARIABLE]: String(HANDOVER_FD) };
  for (const name of Object.keys(secrets)) delete env[name];
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env,
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
  });
  const pipe = child.stdio[HANDOVER_FD] as net.Socket;
  // The pipe stays open afterwards as the worker's lifeline: it ends when this process dies.
  pipe.write(`${JSON.stringify(secrets)}\n`);
  pipe.on('error', () => undefined);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, () => child.kill(signal));
  return new Promise<never>(() => {
    child.once('error', (error) => {
      process.stderr.write(`wa-worker: could not start the worker without its secrets in the environment: ${error.message}\n`);
      process.exit(1);
    });
    child.on('exit', (code, signal) => {
      if (signal) {
        for (const forwarded of FORWARDED_SIGNALS) process.removeAllListeners(forwarded);
        process.kill(process.pid, signal);
      }
      process.exit(code ?? 1);
    });
  });
}

/** Whether this worker was started by {@link superviseWithoutSecrets}. */
let supervised = false;

/** The pid an operator knows this worker by: its supervisor's when it has one (`kill` on it reaches the worker). */
export function operatorPid(): number {
  return supervised ? process.ppid : process.pid;
}

/**
 * In the worker started by {@link superviseWithoutSecrets}: the secrets it was handed (none when it
 * was started directly). If the supervisor dies (SIGKILL), the worker dies at once as well, as one
 * process would: a worker left running would hold the sessions folder against the next start.
 */
export async function receiveSecrets(): Promise<Record<string, string>> {
  const fdText = process.env[HANDOVER_FD_VARIABLE];
  if (fdText === undefined) return {};
  delete process.env[HANDOVER_FD_VARIABLE];
  supervised = true;
  const pipe = new net.Socket({ fd: Number(fdText), readable: true, writable: false });
  const secrets = await new Promise<Record<string, string>>((resolve, reject) => {
    let received = '';
    const closedEarly = () => reject(new Error('the secrets pipe closed before the secrets were handed over'));
    const onData = (chunk: Buffer) => {
      received += chunk.toString('utf8');
      const end = received.indexOf('\n');
      if (end === -1) return;
      pipe.off('data', onData).off('end', closedEarly);
      resolve(JSON.parse(received.slice(0, end)) as Record<string, string>);
    };
    pipe.on('data', onData).once('end', closedEarly).once('error', reject);
  });
  const supervisorGone = () => process.kill(process.pid, 'SIGKILL');
  pipe.on('end', supervisorGone).on('error', supervisorGone);
  // Without a 'data' listener the stream would stop reading, and never see the end.
  pipe.resume();
  pipe.unref();
  return secrets;
}
