import type { EventBus, WorkerEventType } from '../events/bus';

/** The events after which the page's list is sent again: a status, a QR or pairing code refreshed while scanning, a probe (last seen alive). */
const CHANGES: ReadonlySet<WorkerEventType> = new Set(['status', 'qr', 'code', 'probe']);

/**
 * The dashboard's only tie to the worker's events: `listener` runs on every change of what the
 * page shows (a session's status, its QR, its last seen alive); returns the unsubscribe.
 */
export function subscribeToSessionChanges(bus: EventBus, listener: () => void): () => void {
  return bus.subscribe((event) => {
    if (CHANGES.has(event.type)) listener();
  });
}
