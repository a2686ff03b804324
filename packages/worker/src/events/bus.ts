import type { MessagePayload, WorkerSession } from '@wa-session-sync/shared';
import type { Logger } from '../log';
import { errorMessage } from '../util';

/** What every event about one session carries. */
interface SessionScoped {
  /** When the worker saw it. */
  at: Date;
  session_id: string;
  workspace_id: string;
}

/** How a launch began: a start (API, sync), the restore at start, a relaunch (reconnect route, automatic retry). */
export type LaunchKind = 'start' | 'restore' | 'reconnect';

/** Why a person must act (the `session.alert` webhook's `kind`). */
export type AlertKind = 'reconnect_exhausted' | 'qr_timeout' | 'logged_out' | 'probe_failing' | 'auth_snapshot_too_large';

/**
 * Consecutive failed live probes of one session (no successful probe in between, whatever the
 * relaunches meanwhile) that raise the `probe_failing` alert. Each failed probe relaunches the
 * session and a relaunch that gets ready resets the reconnect attempts, so a session that comes
 * back and wedges again never exhausts them: three such rounds in a row (three health-check
 * intervals at least) is a loop a person must look at, while one wedge healed by a relaunch is not.
 */
export const PROBE_FAILING_ALERT_AFTER = 3;

/** Everything the worker announces, one `type` each. */
export type WorkerEvent =
  /** A status change; `session` is the view after it. `from` is null for a session just registered. */
  | (SessionScoped & { type: 'status'; session: WorkerSession; from: WorkerSession['status'] | null; to: WorkerSession['status']; reason: string | null })
  /** A QR to scan (every refresh). */
  | (SessionScoped & { type: 'qr'; qr: string })
  /**
   * A pairing code to enter on the phone (the first after a request, then each refresh). The
   * contract has no webhook event for it: it is for the worker's own views (the dashboard).
   */
  | (SessionScoped & { type: 'code'; code: string })
  /** A message received, its body already cut to 4 KiB. */
  | (SessionScoped & { type: 'message'; message: MessagePayload })
  /** A launch ended its first phase: ready, showing a QR, or failed (lost before either). */
  | (SessionScoped & { type: 'launch'; kind: LaunchKind; outcome: 'ready' | 'qr' | 'failed'; duration_ms: number })
  /**
   * A session lost its client. `retry`: a relaunch is scheduled (the status goes `reconnecting`),
   * `attempts` being its number; otherwise (auto-reconnect off, attempts exhausted) `attempts` is
   * the number made so far.
   */
  | (SessionScoped & { type: 'loss'; reason: string; attempts: number; retry: boolean })
  /** The verdict of a live probe that looked at the session (skipped probes are not announced). */
  | (SessionScoped & { type: 'probe'; ok: boolean; reason?: string })
  /** A person must act: see {@link AlertKind}. */
  | (SessionScoped & { type: 'alert'; kind: AlertKind; reason: string; attempts: number })
  /** The worker itself starts (listening) or begins to stop. */
  | { type: 'worker'; at: Date; state: 'started' | 'stopping' };

export type WorkerEventType = WorkerEvent['type'];

/** One event of the given type. */
export type EventOf<T extends WorkerEventType> = Extract<WorkerEvent, { type: T }>;

/** Called synchronously for every event, in publish order. A throw is logged and goes no further. */
export type Listener = (event: WorkerEvent) => void;

/**
 * The worker's one event bus: session code publishes, any number of subscribers (the webhook
 * dispatcher, and later the history, the metrics, the dashboard's stream) listen, each added
 * without touching the others. Delivery is synchronous and in order; a listener that throws is
 * logged and neither the publisher nor the other listeners see it. Written by hand rather than
 * over node's EventEmitter, whose `emit` stops at the first throwing listener and rethrows it into
 * the publisher (the session code), and whose untyped names would lose the union.
 */
export class EventBus {
  private readonly listeners = new Set<Listener>();

  constructor(private readonly logger?: Logger) {}

  /** Hands `event` to every listener subscribed now. Never throws. */
  publish(event: WorkerEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.logger?.error('Event listener failed', { type: event.type, error: errorMessage(error) });
      }
    }
  }

  /** Adds a listener; returns the function that removes it (idempotent). */
  subscribe(listener: Listener): () => void {
    // Wrapped so that the same function subscribed twice is two subscriptions, each removable.
    const entry: Listener = (event) => listener(event);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Listeners subscribed now. */
  get size(): number {
    return this.listeners.size;
  }
}
