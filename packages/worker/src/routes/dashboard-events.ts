import type { WorkerSession } from '@wa-session-sync/shared';
import type { SessionManager } from '../sessions/manager';

/**
 * The dashboard's only tie to the worker's events: `listener` runs on every change of a session
 * the page shows; returns the unsubscribe. Today that is the manager's `status` event; the typed
 * event bus (issue 18 point 0) replaces it here, and should add its `qr` events, so that a QR
 * refreshed while `qr_scanning` reaches the page too.
 */
export function subscribeToSessionChanges(manager: SessionManager, listener: (session: WorkerSession) => void): () => void {
  manager.on('status', listener);
  return () => manager.off('status', listener);
}
