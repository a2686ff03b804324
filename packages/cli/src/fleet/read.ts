import { WorkerClient, type WorkerHealth, type WorkerIdentity } from '../worker-client';
import type { WorkerSnapshot } from '../sync/model';
import type { WorkerRow } from '../db/fleet';
import type { WorkerInput } from './placement';

// The fleet as one run sees it: every worker's /health and /api/sessions, read in parallel, each
// worker with its own client and so its own deadline, so one silent worker costs the run its
// request timeout, never the others' answers.

/** One worker's answer, or why it gave none. */
export type WorkerReading =
  | { url: string; ok: true; client: WorkerClient; health: WorkerHealth; identity: WorkerIdentity; snapshot: WorkerSnapshot }
  | { url: string; ok: false; client: WorkerClient; error: string };

export interface FleetReadOptions {
  apiKey: string | undefined;
  timeoutMs: number;
  deadline: number;
  concurrency: number;
  workspaceId: string | undefined;
}

/** Reads every worker at once; never throws for a worker (its failure is its reading). Close the clients when done. */
export async function readFleet(urls: readonly string[], options: FleetReadOptions): Promise<WorkerReading[]> {
  return Promise.all(
    urls.map(async (url): Promise<WorkerReading> => {
      const client = new WorkerClient({
        baseUrl: url,
        apiKey: options.apiKey,
        timeoutMs: options.timeoutMs,
        deadline: options.deadline,
        concurrency: options.concurrency,
      });
      try {
        const [{ health, identity }, snapshot] = await Promise.all([client.healthWithIdentity(), client.sessions(options.workspaceId)]);
        return { url, ok: true, client, health, identity, snapshot };
      } catch (error) {
        return { url, ok: false, client, error: error instanceof Error ? error.message : String(error) };
      }
    }),
  );
}

/**
 * The readings as placement's input: every worker that answered, by the id it reports (a worker
 * older than the fleet reports none: its URL stands for it), and every known worker
 * (`whatsapp_workers`) that did not answer and still has something to move (an account recorded
 * on it, or a lease), silent one run more than its row says.
 *
 * A URL that does not answer cannot say who it is, so silent workers are known by their ids, not
 * by URL: a worker that answered once has its row, and a worker taken out of the configuration
 * counts as silent too (dead after `deadAfterRuns`, and its sessions move), which is what taking
 * it out means. A URL that never answered holds no session of ours; it is only reported.
 */
export function workerInputs(
  readings: readonly WorkerReading[],
  rows: readonly WorkerRow[],
  /** Worker ids that accounts or leases name: a silent worker without any has nothing to move. */
  named: ReadonlySet<string>,
): WorkerInput[] {
  const byId = new Map(rows.map((row) => [row.workerId, row]));
  const inputs: WorkerInput[] = [];
  for (const reading of readings) {
    if (!reading.ok) continue;
    const workerId = reading.identity.workerId ?? reading.url;
    inputs.push({
      workerId,
      url: reading.url,
      reachable: true,
      unreachableRuns: 0,
      draining: byId.get(workerId)?.draining ?? false,
      capacity: reading.identity.capacity,
      sessions: reading.snapshot.sessions.map((s) => ({ sessionId: s.session_id, status: s.status })),
    });
  }
  const answering = new Set(inputs.map((w) => w.workerId));
  for (const row of rows) {
    if (answering.has(row.workerId) || !named.has(row.workerId)) continue;
    inputs.push({
      workerId: row.workerId,
      url: '',
      reachable: false,
      // This run included: the row counts the runs before it.
      unreachableRuns: row.unreachableRuns + 1,
      draining: row.draining,
      capacity: null,
      sessions: [],
    });
  }
  return inputs;
}
