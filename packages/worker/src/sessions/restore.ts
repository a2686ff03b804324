import pLimit from 'p-limit';
import type { Logger } from '../log';
import type { SessionManager } from './manager';
import { listSavedSessions, readManifest, type SavedSession } from './manifest';
import { errorMessage } from '../util';

export interface RestoreReport {
  /** Connected again. */
  restored: string[];
  /** Started, but not connected when its launch settled (QR needed, reconnecting, failed). */
  pending: Array<{ session_id: string; status: string }>;
  /** Folders whose manifest could not be used; left on disk, reported. */
  broken: Array<{ folder: string; error: string }>;
  /** Saved as stopped (DELETE without logout). */
  skipped: string[];
}

/**
 * Brings back every saved session whose desired state is `running`, at most `concurrency` at once.
 * A session already in memory is force-cleaned first (the seed document's duplicate fix). One broken
 * profile never blocks the others.
 */
export async function restoreSessions(options: {
  manager: SessionManager;
  sessionsDir: string;
  concurrency: number;
  logger: Logger;
  /** How long the first session runs alone before the others start (bounded: a slow one never blocks them). */
  headStartMs?: number;
}): Promise<RestoreReport> {
  const { manager, logger } = options;
  const report: RestoreReport = { restored: [], pending: [], broken: [], skipped: [] };
  const saved = await listSavedSessions(options.sessionsDir);
  logger.info('Restoring saved sessions', { found: saved.length, concurrency: options.concurrency });
  const toRestore: SavedSession[] = [];
  const manifests = await Promise.allSettled(saved.map((entry) => readManifest(entry.folder)));
  saved.forEach((entry, i) => {
    const manifest = manifests[i]!;
    if (manifest.status === 'rejected') {
      logger.error('Cannot restore a saved session', { folder: entry.folder, error: errorMessage(manifest.reason) });
      report.broken.push({ folder: entry.folder, error: errorMessage(manifest.reason) });
    } else if (manifest.value.desired === 'stopped') report.skipped.push(entry.sessionId);
    else toRestore.push(entry);
  });

  // Launches (Chromium start, page load, injection: the CPU-heavy part) go one at a time; the
  // rest of a restore (login, store injection, ready) overlaps the next launch. Measured on two
  // cores: launching two at once made no restore finish sooner and pushed /health's p99 from
  // ~25 ms to over 100 ms.
  const launchGate = pLimit(1);
  const restoreOne = async (entry: SavedSession) => {
    try {
      const { settled } = await launchGate(() => manager.beginRestore(entry.workspaceId, entry.sessionId));
      const session = await settled;
      if (session.status === 'connected') report.restored.push(entry.sessionId);
      else report.pending.push({ session_id: entry.sessionId, status: session.status });
    } catch (error) {
      logger.error('Restore failed', { sessionId: entry.sessionId, error: errorMessage(error) });
      report.pending.push({ session_id: entry.sessionId, status: 'failed' });
    }
  };
  // After a crash of the worker its browsers close by themselves, saving their profiles; a launch
  // waits for the one on its profile. Sessions whose profile is already free go first.
  const held = new Set<SavedSession>();
  await Promise.all(toRestore.map(async (entry) => (await manager.profileHeld(entry.folder)) && held.add(entry)));
  toRestore.sort((a, b) => Number(held.has(a)) - Number(held.has(b)));
  if (held.size > 0) logger.info('Sessions whose earlier Chromium is still closing are restored last', { sessions: [...held].map((e) => e.sessionId) });

  // Restoring is CPU-bound: sessions started together all finish late. The first one gets the
  // machine to itself for a head start, so one session answers early; the rest follow
  // `concurrency` at a time.
  const [first, ...rest] = toRestore;
  if (!first) return report;
  const firstDone = restoreOne(first);
  await Promise.race([firstDone, new Promise((r) => setTimeout(r, options.headStartMs ?? 1500))]);
  const limit = pLimit(options.concurrency);
  await Promise.all([firstDone, ...rest.map((entry) => limit(() => restoreOne(entry)))]);
  return report;
}
