/** The worker's test conventions, on `@wa-session-sync/test-support`. */
import fs from 'node:fs/promises';
import type { WebhookEvent } from '@wa-session-sync/shared';
import {
  processesMentioning,
  waitFor,
  startWebhookReceiver,
  startWorker,
  tempDir as makeTempDir,
  type WebhookReceiver,
  type WorkerProcess,
} from '@wa-session-sync/test-support';

export { browserProcesses, processesMentioning, waitFor, WORKER_BIN, type WorkerProcess } from '@wa-session-sync/test-support';

export const API_KEY = 'test-key-3f9a1c-worker';

/** A temp folder `wa-worker-<prefix>-<random>`. */
export function tempDir(prefix: string): Promise<string> {
  return makeTempDir(`wa-worker-${prefix}-`);
}

export type Receiver = WebhookReceiver;

/** A webhook receiver answering `answer()` (200); it records what it accepted (raw body, signature, event). */
export function startReceiver(answer?: (event: WebhookEvent) => number | Promise<number>): Promise<Receiver> {
  return startWebhookReceiver({ answer });
}

/** The built worker with `apiKey` ({@link API_KEY}) and `env`, listening on an ephemeral port. */
export function spawnWorker(env: Record<string, string>, apiKey = API_KEY): Promise<WorkerProcess> {
  return startWorker({ apiKey, env });
}

/**
 * The end of a process suite: its worker SIGKILLed if it still runs, every Chromium under `dir`
 * given 10 s to exit and then killed, the simulator and the receiver stopped, the folder removed.
 * Returns the pids that had to be killed: a suite expects none (a Chromium outliving its worker
 * is a leak in the worker's cleanup).
 */
export async function endProcessSuite(parts: {
  worker?: WorkerProcess;
  dir: string;
  sim?: { stop(): Promise<void> };
  receiver?: Receiver;
}): Promise<number[]> {
  const { worker, dir } = parts;
  if (worker && worker.child.exitCode === null && worker.child.signalCode === null) {
    worker.child.kill('SIGKILL');
    await worker.exited;
  }
  await waitFor(() => processesMentioning(dir).length === 0, 'Chromium to exit', 10_000).catch(() => undefined);
  const left = processesMentioning(dir);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  await parts.sim?.stop().catch(() => undefined);
  await parts.receiver?.close();
  await fs.rm(dir, { recursive: true, force: true });
  return left;
}
