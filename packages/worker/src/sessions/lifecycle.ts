import { REASONS } from '@wa-session-sync/shared';
import { CapacityExhaustedError, SessionLeasedElsewhereError } from '../errors';
import type { Logger } from '../log';
import { errorMessage, KeyedSerial, withTimeout } from '../util';
import type { Capacity } from './capacity';
import type { ClientEvents, SessionClient, SessionDriver } from './driver';
import type { LaunchGate } from './launch-gate';
import type { ManifestStore } from './manifest-store';
import type { SessionRecord } from './record';
import type { ReconnectScheduler } from './reconnect-scheduler';
import type { SessionRegistry } from './registry';
import type { SessionAuth } from './session-auth';
import type { SessionEvents } from './session-events';

export interface LifecycleOptions {
  driver: SessionDriver;
  registry: SessionRegistry;
  events: SessionEvents;
  manifests: ManifestStore;
  reconnects: ReconnectScheduler;
  /** Every launch takes its turn here. */
  gate: LaunchGate;
  /** Checks the memory floor again as a launch leaves the gate, and counts it until it has finished. */
  capacity: Capacity;
  logger: Logger;
  now: () => Date;
  /** Reconnect by itself after a loss (`WHATSAPP_WEBJS_AUTO_RECONNECT`). */
  autoReconnect: boolean;
  /** How long `initialize()` may take before the launch counts as failed. */
  initTimeoutMs: number;
  /** Bound on a client's `destroy()` before its browser is killed (the seed's force cleanup: 5 s). */
  destroyTimeoutMs: number;
  /** How long a launch waits for a Chromium of this host still closing the profile before killing it. */
  profileReleaseTimeoutMs: number;
  /** How long a session may show a QR nobody scans before it is stopped (`QR_TIMEOUT`). */
  qrTimeoutMs: number;
  /** How long a session may stay authenticated without getting ready before it is a failed launch (`READY_TIMEOUT`). */
  readyTimeoutMs: number;
  /** The worker is shutting down: nothing is launched or relaunched any more. */
  closing: () => boolean;
  /** Where the sessions' logins live beyond the profile, and who may run them (`WHATSAPP_AUTH_STORE`). */
  auth: SessionAuth;
}

/**
 * The life of each session's client: launch, the client's events, loss and relaunch, disposal.
 * Operations on one session run one after another ({@link serial}), so two Chromium never share a
 * profile; a client's events are ignored once its generation is over.
 */
export class SessionLifecycle {
  private readonly chains = new KeyedSerial();
  private readonly disposals = new WeakMap<SessionClient, Promise<void>>();
  /** The pid leading each client's Chromium process group, once it runs. */
  private readonly browserPids = new WeakMap<SessionClient, number>();
  /** The pending QR deadline of each record showing a QR. */
  private readonly qrDeadlines = new Deadlines();
  /** The pending ready deadline of each record authenticated and not yet ready. */
  private readonly readyDeadlines = new Deadlines();

  constructor(private readonly options: LifecycleOptions) {}

  /** Runs `op` after every earlier operation on this session has settled. */
  serial<T>(sessionId: string, op: () => Promise<T>): Promise<T> {
    return this.chains.run(sessionId, op);
  }

  /** Makes a record inert: no more events from its client, no pending retry. */
  private retire(record: SessionRecord): void {
    record.generation++;
    record.client = null;
    record.clientInitialized = false;
    this.options.reconnects.cancel(record);
    this.freeReservation(record);
    this.qrDeadlines.clear(record);
    this.readyDeadlines.clear(record);
  }

  /**
   * Lets go of a record's launch, the one way every path does it (stop, replace, force cleanup,
   * shutdown, forget, QR timeout, loss): take its client, retire the record (no more events from
   * that client, no retry, no deadline, its memory reservation freed), remove it from the
   * registry when asked, and dispose of the client as asked:
   * - `now`: at once (a stop: closing the browser is what ends a launch still in `initialize()`);
   * - `serial`: on the session's chain, after what runs there;
   * - `later`: not at all here; the caller runs the returned `dispose` (a replace, before its launch).
   * `beforeDispose` runs first with the client (a logout). Never throws; `disposed` settles when done.
   */
  release(
    record: SessionRecord,
    how: { remove?: boolean; dispose: 'now' | 'serial' | 'later'; boundMs?: number; beforeDispose?: (client: SessionClient) => Promise<unknown> },
  ): { client: SessionClient | null; dispose: () => Promise<void>; disposed: Promise<void> } {
    const client = record.client;
    this.retire(record);
    if (how.remove) this.options.registry.remove(record);
    const dispose = async () => {
      if (!client) return;
      if (how.beforeDispose) await how.beforeDispose(client).catch(() => undefined);
      await this.dispose(record, client, how.boundMs);
    };
    let disposed = Promise.resolve();
    if (how.dispose === 'now') disposed = dispose();
    else if (how.dispose === 'serial' && client) disposed = this.serial(record.sessionId, dispose);
    return { client, dispose, disposed };
  }

  /**
   * Launches a client for `record`; call it inside the session's serial chain. `inLine` is called
   * when the launch takes its place in the launch gate's line (not at all if it ends before).
   */
  async launch(record: SessionRecord, inLine: () => void = () => undefined): Promise<void> {
    try {
      await this.launchOnce(record, inLine);
    } finally {
      this.freeReservation(record);
    }
  }

  /** The launch no longer counts against the memory (finished, failed, given up or never run). */
  freeReservation(record: SessionRecord): void {
    if (record.reservation) this.options.capacity.finish(record.reservation);
    record.reservation = null;
  }

  private async launchOnce(record: SessionRecord, inLine: () => void): Promise<void> {
    const { registry, logger } = this.options;
    if (this.options.closing() || !registry.holds(record)) return;
    const profiles = this.options.driver.profiles;
    // A Chromium of this host still on this profile goes first. After a crash of the worker it is
    // the earlier worker's, closing by itself since its pipe closed and saving the profile as it
    // goes (localStorage is written late): it gets a moment to finish, then it is killed. Any
    // other lock is stale (another host, a process gone) and is removed below.
    const holder = await profiles.liveHolder(record.folder);
    if (holder !== null) {
      const released = await profiles.waitForExit(holder, this.options.profileReleaseTimeoutMs);
      if (!released) await this.killProfileProcesses(record.folder);
    }
    const removed = await profiles.removeStaleLocks(record.folder).catch(() => [] as string[]);
    if (removed.length > 0) logger.info('Removed stale Chromium lock files', { sessionId: record.sessionId, removed });
    // Stopped, replaced or shutting down while we looked at the profile.
    if (this.options.closing() || !registry.holds(record)) return;
    const generation = ++record.generation;
    this.options.events.launchBegan(record);
    try {
      // The lease still this worker's and the profile the newest login, before any browser starts.
      await this.options.auth.beforeLaunch(record);
      if (this.options.closing() || !registry.isCurrent(record, generation)) return;
      const turn = this.options.gate.run(async () => {
        // Stopped, replaced or shutting down while it waited for its turn.
        if (this.options.closing() || !registry.isCurrent(record, generation)) return null;
        record.reservation = this.options.capacity.start(record.reservation);
        const created = this.options.driver.create(
          { workspaceId: record.workspaceId, sessionId: record.sessionId, folder: record.folder },
          this.handlers(record, generation),
        );
        record.client = created;
        await withTimeout(created.initialize(), this.options.initTimeoutMs, 'initialize()').catch((error: unknown) => {
          throw new LaunchError(created, error);
        });
        return created;
      });
      inLine();
      const client = await turn;
      if (client === null) return;
      if (registry.isCurrent(record, generation)) record.clientInitialized = true;
      // Given up while it launched (stop, replace, shutdown): whoever did so may have found no
      // browser to close yet, so this launch closes its own.
      else await this.dispose(record, client);
    } catch (error) {
      const client = error instanceof LaunchError ? error.client : null;
      const cause = error instanceof LaunchError ? error.cause : error;
      if (!registry.isCurrent(record, generation)) {
        if (client) await this.dispose(record, client);
        return;
      }
      if (cause instanceof SessionLeasedElsewhereError) {
        // Another worker took the session over while this one was not running it: it is not
        // retried here (two clients on one linked device corrupt its keys).
        logger.warn('Session runs on another worker; not launched here', { sessionId: record.sessionId, holder: cause.holder });
        this.release(record, { dispose: 'later' });
        this.options.events.loss(record, REASONS.LEASED_ELSEWHERE, record.reconnectAttempts, false);
        this.options.events.apply(record, 'dropped', REASONS.LEASED_ELSEWHERE);
        return;
      }
      logger.warn('Session launch failed', { sessionId: record.sessionId, error: errorMessage(cause) });
      this.lost(record, generation, cause instanceof CapacityExhaustedError ? REASONS.LOW_MEMORY : REASONS.LAUNCH_FAILED);
    }
  }

  /**
   * Nobody scanned the QR in time: the browser is closed and the session stays listed as
   * `disconnected` with reason `QR_TIMEOUT`, saved as stopped (a restart does not bring it back);
   * a new start shows a new QR. Nothing revives it by itself: a person must scan.
   */
  private qrExpired(record: SessionRecord, generation: number): void {
    const { registry, events, logger, manifests } = this.options;
    if (!registry.isCurrent(record, generation) || record.status !== 'qr_scanning' || this.options.closing()) return;
    logger.warn('QR not scanned in time; session stopped', { sessionId: record.sessionId, timeoutMs: this.options.qrTimeoutMs });
    const { dispose } = this.release(record, { dispose: 'later' });
    record.qr = null;
    record.pairingCode = null;
    events.apply(record, 'stop', REASONS.QR_TIMEOUT);
    events.alert(record, 'qr_timeout', REASONS.QR_TIMEOUT);
    void this.serial(record.sessionId, async () => {
      await dispose();
      if (registry.holds(record)) await manifests.saveRecord(record, 'stopped');
      await this.options.auth.ended(record, 'stopped');
    });
  }

  /**
   * Authenticated, yet never ready: whatsapp-web.js can stall between the two without a word (a
   * failed write of its web-version cache did so for good). The client is closed and the launch
   * counts as failed, so the reconnect policy retries it and, in the end, gives up.
   */
  private readyExpired(record: SessionRecord, generation: number): void {
    const { registry, logger } = this.options;
    if (!registry.isCurrent(record, generation) || record.status === 'connected' || this.options.closing()) return;
    logger.warn('Session authenticated but not ready in time', { sessionId: record.sessionId, timeoutMs: this.options.readyTimeoutMs });
    this.lost(record, generation, REASONS.READY_TIMEOUT);
  }

  /**
   * The session's client is lost (disconnected, browser or page died, probe failed, launch
   * failed): dispose of it, then retry with backoff, or settle on `disconnected` / `failed`.
   */
  lost(record: SessionRecord, generation: number, reason: string, how: { disposeNow?: boolean } = {}): void {
    const { registry, events, logger, reconnects, auth } = this.options;
    if (!registry.isCurrent(record, generation) || this.options.closing()) return;
    auth.paused(record);
    // A lease about to lapse cannot wait for what runs on the session's chain: its browser closes now.
    this.release(record, { dispose: how.disposeNow ? 'now' : 'serial' });
    if (!this.options.autoReconnect) {
      events.loss(record, reason, record.reconnectAttempts, false);
      events.apply(record, 'dropped', reason);
      void this.serial(record.sessionId, () => auth.ended(record, 'abandoned'));
      return;
    }
    const decision = reconnects.decide(record);
    if (decision.action === 'give_up') {
      logger.error('Reconnect attempts exhausted', { sessionId: record.sessionId, attempts: record.reconnectAttempts, reason });
      events.loss(record, reason, record.reconnectAttempts, false);
      events.apply(record, 'exhausted', reason);
      events.alert(record, 'reconnect_exhausted', reason);
      void this.serial(record.sessionId, () => auth.ended(record, 'abandoned'));
      return;
    }
    record.reconnectAttempts = decision.attempt;
    record.session.counters.reconnectAttempts++;
    record.launchKind = 'reconnect';
    events.loss(record, reason, decision.attempt, true);
    events.apply(record, 'lost', reason);
    const retryGeneration = record.generation;
    reconnects.schedule(record, decision.attempt, decision.delayMs, () => {
      if (registry.isCurrent(record, retryGeneration)) void this.serial(record.sessionId, () => this.launch(record));
    });
  }

  /** Destroys a client within the bound, then makes sure no Chromium is left on its profile. Idempotent; never throws. */
  dispose(record: SessionRecord, client: SessionClient, boundMs = this.options.destroyTimeoutMs): Promise<void> {
    // A client may be given up from two sides (a stop and its own stale launch).
    let disposal = this.disposals.get(client);
    if (!disposal) {
      disposal = this.destroyOrKill(record, client, boundMs);
      this.disposals.set(client, disposal);
    }
    return disposal;
  }

  /** SIGKILLs any Chromium running on this session's profile (an orphan, or a launch we lost track of). */
  async killProfileProcesses(folder: string): Promise<void> {
    const killed = await this.options.driver.profiles.killProfileProcesses(folder);
    if (killed.length > 0) this.options.logger.warn('Killed Chromium left on a profile', { folder, pids: killed });
  }

  private async destroyOrKill(record: SessionRecord, client: SessionClient, boundMs: number): Promise<void> {
    try {
      await withTimeout(client.destroy(), boundMs, 'destroy()');
    } catch (error) {
      this.options.logger.warn('Destroy did not finish; killing the browser', { sessionId: record.sessionId, error: errorMessage(error) });
    }
    await client.kill().catch(() => undefined);
    await this.killProfileProcesses(record.folder);
    const pid = this.browserPids.get(client);
    if (pid !== undefined) this.options.auth.browserClosed(record, pid);
  }

  /** What the client of `generation` reports, turned into state machine events. */
  private handlers(record: SessionRecord, generation: number): ClientEvents {
    const { registry, events, logger, manifests } = this.options;
    const live = () => registry.isCurrent(record, generation);
    return {
      qr: (qr) => {
        if (!live()) return;
        this.readyDeadlines.clear(record);
        record.qr = qr;
        record.session.lastQr = { qr, at: Date.now() };
        events.apply(record, 'qr');
        events.qr(record, qr);
        // From the first QR of a wait: a refreshed QR does not extend it.
        this.qrDeadlines.setOnce(record, this.options.qrTimeoutMs, () => this.qrExpired(record, generation));
      },
      code: (code) => {
        // A refresh that raced the pairing (or a late one after a logout) shows nothing.
        if (!live() || record.status !== 'qr_scanning') return;
        record.pairingCode = code;
        events.code(record, code);
      },
      authenticated: () => {
        if (!live()) return;
        record.pairingCode = null;
        this.qrDeadlines.clear(record);
        events.apply(record, 'authenticated');
        this.readyDeadlines.setOnce(record, this.options.readyTimeoutMs, () => this.readyExpired(record, generation));
      },
      ready: (phone) => {
        if (!live()) return;
        this.qrDeadlines.clear(record);
        this.readyDeadlines.clear(record);
        record.phone = phone ?? record.phone;
        record.qr = null;
        record.pairingCode = null;
        record.reconnectAttempts = 0;
        record.lastSeenAliveAt = this.options.now();
        events.launchSettled(record, 'ready');
        events.apply(record, 'ready', null);
        void manifests.saveRecord(record, 'running');
        this.options.auth.ready(record);
      },
      disconnected: (reason) => {
        if (!live()) return;
        logger.warn('Session disconnected', { sessionId: record.sessionId, reason });
        if (reason === REASONS.LOGOUT) {
          // The phone unlinked this device. The library shows a new QR on the same client: a
          // person must link it again, and nothing relaunches it.
          record.phone = null;
          record.qr = null;
          record.pairingCode = null;
          record.reconnectAttempts = 0;
          this.readyDeadlines.clear(record);
          events.apply(record, 'logout', REASONS.LOGOUT);
          events.alert(record, 'logged_out', REASONS.LOGOUT);
          this.options.auth.paused(record);
          this.options.auth.loggedOutByPhone(record);
          void manifests.saveRecord(record, 'running');
          return;
        }
        this.lost(record, generation, reason);
      },
      authFailure: (message) => {
        if (!live()) return;
        logger.warn('Authentication failed', { sessionId: record.sessionId, error: message });
        this.lost(record, generation, REASONS.AUTH_FAILURE);
      },
      message: (message) => {
        if (live()) events.message(record, message);
      },
      browserStarted: (pid) => {
        if (!live() || !record.client) return;
        this.browserPids.set(record.client, pid);
        this.options.auth.browserStarted(record, pid);
      },
      browserGone: (reason) => {
        if (!live()) return;
        logger.warn('Browser or page gone', { sessionId: record.sessionId, reason });
        this.lost(record, generation, reason);
      },
    };
  }
}

/** One pending timer per record (a QR or ready deadline of the current client). */
class Deadlines {
  private readonly timers = new Map<SessionRecord, NodeJS.Timeout>();

  /** Arms `expired` in `ms` unless this record's deadline is already running: a repeat never extends it. */
  setOnce(record: SessionRecord, ms: number, expired: () => void): void {
    if (this.timers.has(record)) return;
    this.timers.set(
      record,
      setTimeout(() => {
        this.timers.delete(record);
        expired();
      }, ms),
    );
  }

  clear(record: SessionRecord): void {
    clearTimeout(this.timers.get(record));
    this.timers.delete(record);
  }
}

/** A launch's `initialize()` failed or timed out; carries the client so that it can be disposed of. */
class LaunchError extends Error {
  constructor(
    readonly client: SessionClient,
    override readonly cause: unknown,
  ) {
    super(errorMessage(cause));
  }
}
