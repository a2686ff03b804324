import pLimit from 'p-limit';
import type { Logger } from '../log';
import { errorMessage } from '../util';
import type { RestoreTicket, SessionManager } from './manager';
import { readManifest } from './manifest';

export interface RestoreReport {
  /** Connected again. */
  restored: string[];
  /** Started, but not connected when its launch settled (QR needed, reconnecting, failed, stopped meanwhile). */
  pending: Array<{ session_id: string; status: string }>;
  /** Folders whose manifest could not be used; left on disk, reported. */
  broken: Array<{ folder: string; error: string }>;
  /** Saved as stopped (DELETE without logout, an unscanned QR). */
  skipped: string[];
  /** Saved as running but beyond the worker's capacity (its cap, or the memory floor): left on disk, not started. */
  overCapacity: string[];
  /** Saved as running, but another worker holds its lease (WHATSAPP_AUTH_STORE=postgres): left on disk, not started. */
  leasedElsewhere: string[];
}

/** The restore's first step: every saved `running` session registered, in the order they will launch. */
export interface PreparedRestore {
  tickets: RestoreTicket[];
  report: RestoreReport;
}

/**
 * Reads every saved session and registers those whose desired state is `running`
 * ({@link SessionManager.reserveForRestore}), so that from then on the API lists them and a start
 * for one of them answers with it instead of launching it a second time. Run before the HTTP API
 * answers. A broken manifest is reported, never blocks the others.
 */
export async function prepareRestore(options: { manager: SessionManager; sessionsDir: string; logger: Logger }): Promise<PreparedRestore> {
  const { manager, logger } = options;
  const report: RestoreReport = { restored: [], pending: [], broken: [], skipped: [], overCapacity: [], leasedElsewhere: [] };
  const saved = await manager.savedSessions();
  const manifests = await Promise.allSettled(saved.map((entry) => readManifest(entry.folder)));
  const running = saved.filter((entry, i) => {
    const manifest = manifests[i]!;
    if (manifest.status === 'rejected') {
      logger.error('Cannot restore a saved session', { folder: entry.folder, error: errorMessage(manifest.reason) });
      report.broken.push({ folder: entry.folder, error: errorMessage(manifest.reason) });
      return false;
    }
    if (manifest.value.desired === 'stopped') report.skipped.push(entry.sessionId);
    return manifest.value.desired !== 'stopped';
  });
  // After a crash of the worker its browsers close by themselves, saving their profiles; a launch
  // waits for the one on its profile. Sessions whose profile is already free go first.
  const held = new Set(
    (await Promise.all(running.map(async (entry) => ((await manager.profileHeld(entry.folder)) ? entry : null)))).filter((e) => e !== null),
  );
  running.sort((a, b) => Number(held.has(a)) - Number(held.has(b)));
  if (held.size > 0) logger.info('Sessions whose earlier Chromium is still closing are restored last', { sessions: [...held].map((e) => e.sessionId) });
  const tickets: RestoreTicket[] = [];
  for (const entry of running) {
    // WHATSAPP_AUTH_STORE=postgres: a session another worker holds (it took it over) is left alone.
    if (!(await manager.claimForRestore(entry.workspaceId, entry.sessionId))) {
      report.leasedElsewhere.push(entry.sessionId);
      continue;
    }
    const ticket = manager.reserveForRestore(entry.workspaceId, entry.sessionId);
    if (ticket) tickets.push(ticket);
    else report.overCapacity.push(entry.sessionId);
  }
  if (report.overCapacity.length > 0) {
    logger.warn("Saved sessions beyond this worker's capacity (WHATSAPP_MAX_SESSIONS, WHATSAPP_MIN_FREE_MEMORY_MB) are not restored", {
      sessions: report.overCapacity,
    });
  }
  logger.info('Restoring saved sessions', { found: saved.length, registered: tickets.length });
  return { tickets, report };
}

/**
 * Launches the registered sessions, at most `concurrency` restores overlapping; their Chromium
 * start through the manager's launch gate (one at a time by default: the CPU-heavy part), while
 * the rest of a restore (login, store injection, ready) overlaps the next launch. A session that
 * an API call started meanwhile is not launched again.
 */
export async function runRestore(
  prepared: PreparedRestore,
  options: {
    manager: SessionManager;
    concurrency: number;
    logger: Logger;
    /** How long the first session runs alone before the others start (bounded: a slow one never blocks them). */
    headStartMs?: number;
  },
): Promise<RestoreReport> {
  const { manager, logger } = options;
  const { report } = prepared;
  // Each launch begins once the one before it has its place in the launch gate's line, so the
  // sessions launch in the restore's order (profiles free first, the head start first) whatever
  // their profile checks and manifest writes take.
  const turns = new Map<RestoreTicket, { after: Promise<void>; inLine: () => void }>();
  let previous = Promise.resolve();
  for (const ticket of prepared.tickets) {
    let inLine!: () => void;
    const next = new Promise<void>((resolve) => (inLine = resolve));
    turns.set(ticket, { after: previous, inLine });
    previous = next;
  }
  const restoreOne = async (ticket: RestoreTicket) => {
    const turn = turns.get(ticket)!;
    try {
      await turn.after;
      const { settled } = await manager.beginRestore(ticket, undefined, turn.inLine);
      const session = await settled;
      if (session?.status === 'connected') report.restored.push(ticket.sessionId);
      else report.pending.push({ session_id: ticket.sessionId, status: session?.status ?? 'disconnected' });
    } catch (error) {
      turn.inLine();
      logger.error('Restore failed', { sessionId: ticket.sessionId, error: errorMessage(error) });
      report.pending.push({ session_id: ticket.sessionId, status: 'failed' });
    }
  };
  // Restoring is CPU-bound: sessions started together all finish late. The first one gets the
  // machine to itself for a head start, so one session answers early; the rest follow
  // `concurrency` at a time.
  const [first, ...rest] = prepared.tickets;
  if (!first) return report;
  const firstDone = restoreOne(first);
  await Promise.race([firstDone, new Promise((r) => setTimeout(r, options.headStartMs ?? 1500))]);
  const limit = pLimit(options.concurrency);
  await Promise.all([firstDone, ...rest.map((ticket) => limit(() => restoreOne(ticket)))]);
  return report;
}

/** {@link prepareRestore} then {@link runRestore}. */
export async function restoreSessions(options: {
  manager: SessionManager;
  sessionsDir: string;
  concurrency: number;
  logger: Logger;
  headStartMs?: number;
}): Promise<RestoreReport> {
  return runRestore(await prepareRestore(options), options);
}
