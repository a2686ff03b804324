/** The worker's test conventions, on `@wa-session-sync/test-support`. */
import type { WebhookEvent } from '@wa-session-sync/shared';
import {
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
