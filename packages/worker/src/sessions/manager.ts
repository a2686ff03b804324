import { REASONS, type SessionStatus, type WorkerSession } from '@wa-session-sync/shared';
import { CapacityExhaustedError, SessionNotFoundError, SessionStateError } from '../errors';
import { EventBus, type LaunchKind } from '../events/bus';
import type { Logger } from '../log';
import { sessionFolder } from '../browser/profile';
import { errorMessage, withTimeout } from '../util';
import { Capacity, type CapacityLimits } from './capacity';
import type { SessionClient, SessionDriver } from './driver';
import { LaunchGate } from './launch-gate';
import { SessionLifecycle } from './lifecycle';
import type { SavedSession } from './manifest';
import { ManifestStore } from './manifest-store';
import { probeSession } from './probe';
import { browserDied, newRecord, viewOf, type SessionRecord } from './record';
import { ReconnectScheduler } from './reconnect-scheduler';
import { SessionRegistry } from './registry';
import { SessionEvents } from './session-events';
import type { Session } from './session';
import { LOCAL_AUTH, type SessionAuth } from './session-auth';
import { holdsBrowser } from './state';

/** How long WhatsApp Web may take to give a pairing code (it answers in well under a second). */
export const PAIRING_CODE_TIMEOUT_MS = 30_000;

/** How long a session that holds no browser (`disconnected`, `failed`) stays listed. */
export const STOPPED_SESSION_MEMORY_MS = 24 * 60 * 60 * 1000;

export interface ManagerOptions {
  sessionsDir: string;
  driver: SessionDriver;
  logger: Logger;
  /**
   * Where everything that happens to the sessions is published (`events/bus.ts`); subscribe the
   * webhook dispatcher and the rest to it. A bus of its own when omitted (`manager.bus`).
   */
  bus?: EventBus;
  /** Reconnect by itself after a loss (`WHATSAPP_WEBJS_AUTO_RECONNECT`). */
  autoReconnect: boolean;
  maxReconnectAttempts: number;
  reconnectBaseDelayMs: number;
  reconnectMaxDelayMs: number;
  /** How long `getState()` may take before a connected session counts as wedged. */
  probeTimeoutMs: number;
  /** How long `initialize()` may take before the launch counts as failed. */
  initTimeoutMs: number;
  /** Bound on a client's `destroy()` before its browser is killed (the seed's force cleanup: 5 s). */
  destroyTimeoutMs?: number;
  /**
   * How long a launch waits for a Chromium of this host still closing the session's profile (an
   * earlier worker's, which saves the profile as it exits) before killing it. Default 3 s.
   */
  profileReleaseTimeoutMs?: number;
  /** Chromium launches at once, for every kind of start (`WHATSAPP_LAUNCH_CONCURRENCY`). Default 1. */
  launchConcurrency?: number;
  /** Sessions holding a browser at most, the free-memory floor of a start, the estimate per session. Default: none of them. */
  capacity?: CapacityLimits;
  /** How long a QR may wait for a scan (`WHATSAPP_QR_TIMEOUT_SECONDS`). Default 300 s. */
  qrTimeoutMs?: number;
  /** How long a session may stay authenticated before it must be ready (`WHATSAPP_READY_TIMEOUT_SECONDS`). Default 120 s. */
  readyTimeoutMs?: number;
  now?: () => Date;
  random?: () => number;
  /** Where the sessions' logins live beyond the profile, and who may run them (`WHATSAPP_AUTH_STORE`). Default: the local profile alone. */
  auth?: SessionAuth;
}

/**
 * A saved session the restore registered at start (before the HTTP API answered), to be launched
 * in its turn unless something else started, replaced or stopped it first.
 */
export interface RestoreTicket {
  readonly workspaceId: string;
  readonly sessionId: string;
  readonly folder: string;
  /** The record registered (or, for a session already held, the one to replace). */
  readonly record: SessionRecord;
  /** The session was held before the restore began: its turn replaces it (force cleanup first). */
  readonly replaces: boolean;
}

export interface StartResult {
  /** true: a new client was launched (201); false: a live one already existed (200). */
  created: boolean;
  session: WorkerSession;
}

/**
 * The worker's sessions as the HTTP API, the restore and the health monitor see them: a thin
 * front over the registry (`registry.ts`), each session's serialized lifecycle (`lifecycle.ts`),
 * the reconnect scheduler, the live probe (`probe.ts`), the manifest store and the events
 * (`session-events.ts`), which publish on {@link bus}.
 */
export class SessionManager {
  /** Every event of the sessions (`events/bus.ts`): subscribe here. */
  readonly bus: EventBus;
  private readonly registry = new SessionRegistry();
  private readonly events: SessionEvents;
  private readonly manifests: ManifestStore;
  private readonly lifecycle: SessionLifecycle;
  private readonly capacity: Capacity;
  private closing = false;
  private readonly viewFields: Array<(view: WorkerSession, folder: string) => Partial<WorkerSession>> = [];
  private readonly destroyTimeoutMs: number;
  private readonly now: () => Date;
  /** Where the sessions' logins live beyond the profile, and who may run them. */
  readonly auth: SessionAuth;

  constructor(private readonly options: ManagerOptions) {
    this.auth = options.auth ?? LOCAL_AUTH;
    this.destroyTimeoutMs = options.destroyTimeoutMs ?? 5000;
    this.now = options.now ?? (() => new Date());
    const { logger } = options;
    this.bus = options.bus ?? new EventBus(logger);
    this.events = new SessionEvents({ bus: this.bus, logger, now: this.now });
    this.manifests = new ManifestStore(logger, this.now, options.sessionsDir);
    this.capacity = new Capacity(options.capacity ?? { minFreeMemoryMb: 0 });
    const reconnects = new ReconnectScheduler({
      policy: { maxAttempts: options.maxReconnectAttempts, baseDelayMs: options.reconnectBaseDelayMs, maxDelayMs: options.reconnectMaxDelayMs },
      logger,
      random: options.random,
    });
    this.lifecycle = new SessionLifecycle({
      driver: options.driver,
      registry: this.registry,
      events: this.events,
      manifests: this.manifests,
      reconnects,
      // A launch holds its turn until initialize() settles, 30 s at most: a hung one must not
      // stop every other session from starting for the whole init timeout.
      gate: new LaunchGate(options.launchConcurrency ?? 1, Math.min(options.initTimeoutMs, 30_000)),
      capacity: this.capacity,
      logger,
      now: this.now,
      autoReconnect: options.autoReconnect,
      initTimeoutMs: options.initTimeoutMs,
      destroyTimeoutMs: this.destroyTimeoutMs,
      profileReleaseTimeoutMs: options.profileReleaseTimeoutMs ?? 3000,
      qrTimeoutMs: options.qrTimeoutMs ?? 300_000,
      readyTimeoutMs: options.readyTimeoutMs ?? 120_000,
      closing: () => this.closing,
      auth: this.auth,
    });
  }

  // ------------------------------------------------------------------ queries

  /** The sessions in memory: those holding a browser, and those stopped by themselves less than a day ago. */
  list(workspaceId?: string): WorkerSession[] {
    this.forgetStopped();
    return this.registry.views(workspaceId).map((view) => this.withExtraFields(view));
  }

  /**
   * Adds fields to every view `list` and `get` answer (the history's uptime and message rate), as
   * computed from the view's session and folder. The events' views (`session.status` webhooks)
   * stay as they are.
   */
  addViewFields(fields: (view: WorkerSession, folder: string) => Partial<WorkerSession>): void {
    this.viewFields.push(fields);
  }

  private withExtraFields(view: WorkerSession): WorkerSession {
    if (this.viewFields.length === 0) return view;
    const folder = this.registry.known(view.session_id)?.folder;
    if (folder === undefined) return view;
    return Object.assign({}, view, ...this.viewFields.map((fields) => fields(view, folder))) as WorkerSession;
  }

  /** One session; `SessionNotFoundError` when the worker does not hold it. */
  get(sessionId: string): WorkerSession {
    this.forgetStopped();
    return this.withExtraFields(viewOf(this.registry.get(sessionId)));
  }

  /**
   * The session object (`session.ts`: counters kept across launches, its current launch's status)
   * while the worker knows the session, held or stopped; undefined otherwise.
   */
  session(sessionId: string): Session | undefined {
    return this.registry.known(sessionId);
  }

  /** Every session saved on disk (read once, then kept up to date by the worker's own writes). */
  savedSessions(): Promise<SavedSession[]> {
    return this.manifests.saved();
  }

  /**
   * The QR `sessionId` showed last if its tag is `tag` (the dashboard's, {@link qrTag}) and it was
   * shown within the last minute, else null. A page that saw a QR asks for its image a moment
   * later: the session may have been paired or shown a new QR meanwhile, and that race is no error
   * (an old QR pairs nothing: WhatsApp refreshes its ref every ~20 s, and a paired one is spent).
   */
  recentQr(sessionId: string, tag: string): string | null {
    const last = this.registry.known(sessionId)?.lastQr;
    if (!last || Date.now() - last.at > 60_000 || qrTag(last.qr) !== tag) return null;
    return last.qr;
  }

  /** Sessions counted against the cap (those holding or about to hold a browser), and the cap. */
  usage(): { max: number | null; used: number } {
    return { max: this.capacity.max, used: this.used() };
  }

  /** A live Chromium of this host still holds the profile in `folder` (it is closing, or ours). */
  async profileHeld(folder: string): Promise<boolean> {
    return (await this.options.driver.profiles.liveHolder(folder)) !== null;
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Starts a session. A live one is returned as it is (`created: false`) unless `replace` is set
   * (restore, reconnect route): then it is force-cleaned first. A dead one is always replaced.
   * Returns before whatsapp-web.js is ready; watch the status.
   */
  start(workspaceId: string, sessionId: string, options: { replace?: boolean; origin?: string } = {}): StartResult {
    const folder = sessionFolder(this.options.sessionsDir, workspaceId, sessionId);
    const existing = this.registry.find(sessionId);
    if (existing && existing.workspaceId !== workspaceId) {
      throw new SessionStateError('session_workspace_mismatch', `Session ${sessionId} belongs to another workspace`);
    }
    if (this.closing) throw new SessionStateError('worker_stopping', 'The worker is shutting down');
    if (existing?.queued) {
      // Waiting in the restore queue: launched now, by this start, and never again by the restore.
      this.launchQueued(existing, options.origin ?? 'api');
      return { created: false, session: viewOf(existing) };
    }
    if (existing && holdsBrowser(existing.status) && !options.replace && !browserDied(existing)) {
      return { created: false, session: viewOf(existing) };
    }
    // A session not holding a browser yet takes a place; a replaced one keeps its own.
    const reservation = !existing || !holdsBrowser(existing.status) ? this.capacity.admit(this.used()) : null;
    // Registered synchronously, before any await, so a concurrent start sees it and answers 200.
    const record = newRecord({
      workspaceId,
      sessionId,
      folder,
      phone: existing?.phone ?? null,
      now: this.now(),
      session: this.registry.session(workspaceId, sessionId, folder),
      launchKind: launchKindOf(options.origin),
    });
    record.reservation = reservation;
    // The replaced launch's client is disposed of on the new record's chain, before it launches.
    const previous = existing ? this.lifecycle.release(existing, { dispose: 'later' }) : null;
    this.registry.put(record);
    this.options.logger.info('Creating WhatsApp session', { sessionId, workspaceId, origin: options.origin ?? 'api' });
    this.events.status(record, existing?.status ?? null);
    this.launchInSerial(record, async () => {
      if (previous?.client) {
        this.options.logger.info('Force cleanup session', { sessionId });
        await previous.dispose();
      }
    });
    return { created: true, session: viewOf(record) };
  }

  /**
   * {@link start}, once this worker has made sure it may run the session: with
   * `WHATSAPP_AUTH_STORE=postgres` it takes the session's lease first, and another worker's lease
   * refuses the start (`SessionLeasedElsewhereError`, 409) before anything is registered or launched.
   */
  async claimAndStart(workspaceId: string, sessionId: string, options: { replace?: boolean; origin?: string } = {}): Promise<StartResult> {
    const existing = this.registry.find(sessionId);
    if (existing && existing.workspaceId !== workspaceId) {
      throw new SessionStateError('session_workspace_mismatch', `Session ${sessionId} belongs to another workspace`);
    }
    if (this.closing) throw new SessionStateError('worker_stopping', 'The worker is shutting down');
    const target = { workspaceId, sessionId, folder: sessionFolder(this.options.sessionsDir, workspaceId, sessionId) };
    const { fresh } = await this.auth.claim(target);
    try {
      return this.start(workspaceId, sessionId, options);
    } catch (error) {
      // Refused after all (capacity, shutting down): a lease taken for it is let go at once.
      if (fresh && !this.registry.find(sessionId)) await this.auth.ended(target, 'abandoned');
      throw error;
    }
  }

  /**
   * The restore's claim of a saved session: true when this worker may run it, false when another
   * worker holds it (logged; the session stays on disk, not started here).
   */
  async claimForRestore(workspaceId: string, sessionId: string): Promise<boolean> {
    try {
      await this.auth.claim({ workspaceId, sessionId, folder: sessionFolder(this.options.sessionsDir, workspaceId, sessionId) });
      return true;
    } catch (error) {
      this.options.logger.warn('Saved session not restored here', { sessionId, error: errorMessage(error) });
      return false;
    }
  }

  /**
   * WHATSAPP_AUTH_STORE=postgres: the session's lease is lost or could lapse before it is renewed.
   * Its browser is closed at once (the watchdog kills it if this does not happen in time) and the
   * loss is handled as any other: the relaunch takes the lease again, or finds it held elsewhere.
   */
  leaseLost(sessionId: string): void {
    const record = this.registry.find(sessionId);
    if (!record || !holdsBrowser(record.status)) return;
    this.options.logger.warn('Session lease lost; closing its browser', { sessionId });
    this.lifecycle.lost(record, record.generation, REASONS.LEASE_LOST, { disposeNow: true });
  }

  /** Raises a `session.alert` for a session this worker knows (a situation a person must act on). */
  alert(sessionId: string, kind: 'auth_snapshot_too_large', reason: string): void {
    const record = this.registry.find(sessionId);
    if (record) this.events.alert(record, kind, reason);
  }

  /** The session holds, or is about to hold, a browser here (so its lease is to be kept). */
  wantsLease(sessionId: string): boolean {
    const record = this.registry.find(sessionId);
    return record !== undefined && holdsBrowser(record.status);
  }

  /**
   * Registers a saved session for the restore, synchronously: from now on it is listed
   * (`initializing`) and counted, and a `POST` for it answers 200 with it. A session already held
   * is left running and replaced when its turn comes (the seed's duplicate fix). Returns null when
   * the worker cannot take it (the cap, or the memory floor with every session registered before
   * it counted): the session stays on disk, not started.
   */
  reserveForRestore(workspaceId: string, sessionId: string): RestoreTicket | null {
    const folder = sessionFolder(this.options.sessionsDir, workspaceId, sessionId);
    const existing = this.registry.find(sessionId);
    if (existing) return { workspaceId, sessionId, folder, record: existing, replaces: true };
    if (this.closing) throw new SessionStateError('worker_stopping', 'The worker is shutting down');
    let reservation;
    try {
      reservation = this.capacity.admit(this.used());
    } catch (error) {
      if (error instanceof CapacityExhaustedError) return null;
      throw error;
    }
    const record = newRecord({
      workspaceId,
      sessionId,
      folder,
      phone: null,
      now: this.now(),
      session: this.registry.session(workspaceId, sessionId, folder),
      launchKind: 'restore',
    });
    record.queued = true;
    record.reservation = reservation;
    this.registry.put(record);
    this.events.status(record, null);
    return { workspaceId, sessionId, folder, record, replaces: false };
  }

  /**
   * Launches a reserved session in two steps: resolves once the browser is launched and WhatsApp
   * Web loaded (`initialize()` settled), with `settled` for the rest (connected, showing a QR,
   * reconnecting or failed; the restore overlaps the next launch with it). A session started,
   * replaced or stopped since it was reserved is left as it is: `settled` then follows that one
   * (null when it is gone). `inLine` settles once the launch has its place in the launch gate's
   * line. Throws only what `start` throws (an invalid id, the worker stopping).
   */
  async beginRestore(
    ticket: RestoreTicket,
    settleTimeoutMs = this.options.initTimeoutMs,
    onInLine: () => void = () => undefined,
  ): Promise<{ settled: Promise<WorkerSession | null> }> {
    const { workspaceId, sessionId } = ticket;
    const current = this.registry.find(sessionId);
    if (current === ticket.record && current.queued) this.launchQueued(current, 'restore');
    else if (current === ticket.record && ticket.replaces) this.start(workspaceId, sessionId, { replace: true, origin: 'restore' });
    const record = this.registry.find(sessionId);
    if (!record) {
      onInLine();
      return { settled: Promise.resolve(null) };
    }
    void record.inLine.then(onInLine);
    await record.launched.catch(() => undefined);
    const settled = this.waitUntil(record, (s) => s !== 'initializing' && s !== 'authenticated', settleTimeoutMs).then(() => {
      const view = viewOf(record);
      if (view.status === 'connected') this.options.logger.info(`✅ Session restored: ${sessionId}`, { sessionId, workspaceId });
      return view;
    });
    return { settled };
  }

  /**
   * `POST /:id/pairing-code`: a code that links the session when entered on the phone of
   * `phoneNumber` (the shared phone pattern; a leading `+` is dropped, WhatsApp wants digits).
   * Only while the session shows a QR (`not_pairing` otherwise). The code also shows on the
   * session (`pairing_code`) and is refreshed there by the page.
   */
  async requestPairingCode(sessionId: string, phoneNumber: string): Promise<string> {
    const record = this.registry.get(sessionId);
    const client = record.client;
    if (record.status !== 'qr_scanning' || !client) {
      throw new SessionStateError('not_pairing', `Session ${sessionId} is not waiting to be paired: it is ${record.status}`);
    }
    const digits = phoneNumber.replace(/^\+/, '');
    try {
      // Bounded: the library's page script waits for WhatsApp Web's linking module without limit.
      return await withTimeout(client.requestPairingCode(digits), PAIRING_CODE_TIMEOUT_MS, 'requestPairingCode()');
    } catch (error) {
      // The session may have been paired, stopped or relaunched meanwhile: that is a 409 too.
      if (this.registry.find(sessionId) !== record || record.status !== 'qr_scanning') {
        throw new SessionStateError('not_pairing', `Session ${sessionId} stopped waiting to be paired: it is ${this.registry.find(sessionId)?.status ?? 'stopped'}`);
      }
      this.options.logger.warn('Pairing code request failed', { sessionId, error: errorMessage(error) });
      throw error;
    }
  }

  /** `POST /:id/reconnect`: force cleanup, then start again from saved auth. */
  async reconnect(sessionId: string): Promise<WorkerSession> {
    const record = this.registry.find(sessionId);
    const workspaceId = record?.workspaceId ?? (await this.manifests.findSaved(sessionId))?.workspaceId;
    if (!workspaceId) throw new SessionNotFoundError(sessionId);
    return (await this.claimAndStart(workspaceId, sessionId, { replace: true, origin: 'reconnect' })).session;
  }

  /** `DELETE /:id`: stops the session and frees it; keeps its saved auth unless `logout`. */
  async stop(sessionId: string, options: { logout?: boolean } = {}): Promise<void> {
    const record = this.registry.find(sessionId);
    const saved = record ?? (await this.manifests.findSaved(sessionId));
    if (!saved) throw new SessionNotFoundError(sessionId);
    const current = this.registry.find(sessionId);
    if (current) {
      const wasConnected = current.status === 'connected';
      this.events.apply(current, 'stop', options.logout ? REASONS.LOGGED_OUT : REASONS.STOPPED);
      // Disposed at once, not queued behind a launch still waiting on initialize(): closing its
      // browser is what ends that launch.
      const { disposed } = this.lifecycle.release(current, {
        remove: true,
        dispose: 'now',
        beforeDispose:
          options.logout && wasConnected
            ? (client: SessionClient) =>
                withTimeout(client.logout(), this.destroyTimeoutMs, 'logout()').catch((error: unknown) =>
                  this.options.logger.warn('Logout failed; removing the saved auth anyway', { sessionId, error: errorMessage(error) }),
                )
            : undefined,
      });
      await disposed;
    }
    if (options.logout) this.registry.forget(sessionId);
    await this.lifecycle.serial(sessionId, async () => {
      const folder = current?.folder ?? saved.folder;
      const workspaceId = current?.workspaceId ?? saved.workspaceId;
      // After the browser has closed: the final save of its login (or its deletion), then the lease let go.
      await this.auth.ended({ workspaceId, sessionId, folder }, options.logout ? 'logged_out' : 'stopped');
      if (options.logout) {
        await this.manifests.removeFolder(folder);
      } else {
        await this.manifests.save(folder, {
          workspace_id: current?.workspaceId ?? saved.workspaceId,
          session_id: sessionId,
          desired: 'stopped',
          phone_number: current?.phone ?? null,
          updated_at: this.now().toISOString(),
        });
      }
      this.options.logger.info('Session stopped', { sessionId, logout: options.logout === true });
    });
  }

  /**
   * The seed document's force cleanup, more aggressive than a disconnect: destroys the client
   * within 5 s or kills its Chromium process group, and removes the session from memory. Never throws.
   */
  async forceCleanupSession(sessionId: string): Promise<void> {
    try {
      await this.lifecycle.serial(sessionId, async () => {
        const record = this.registry.find(sessionId);
        this.options.logger.info('Force cleanup session', { sessionId });
        if (!record) return;
        await this.lifecycle.release(record, { remove: true, dispose: 'now' }).disposed;
      });
    } catch (error) {
      this.options.logger.warn('Force cleanup failed', { sessionId, error: errorMessage(error) });
    }
  }

  /** Destroys every client within `timeoutMs` (keeping their auth), stops reconnecting. */
  async shutdown(timeoutMs: number): Promise<void> {
    this.closing = true;
    const records = this.registry.all();
    const work = records.map(
      (record) => this.lifecycle.release(record, { dispose: 'now', boundMs: Math.min(this.destroyTimeoutMs, timeoutMs) }).disposed,
    );
    const started = Date.now();
    await withTimeout(Promise.all(work), timeoutMs, 'shutdown').catch(() => undefined);
    // Whatever still runs on a profile (a launch that was in flight) goes too.
    await Promise.all(records.map((record) => this.lifecycle.killProfileProcesses(record.folder)));
    // Every browser is closed: each login's final save, then its lease let go, in what is left of the bound.
    const left = Math.max(timeoutMs - (Date.now() - started), 1000);
    await withTimeout(Promise.all(records.map((record) => this.auth.ended(record, 'stopped'))), left, 'final saves').catch((error: unknown) =>
      this.options.logger.warn('Final saves of the logins did not finish', { error: errorMessage(error) }),
    );
    await this.auth.close();
    this.registry.clear();
  }

  // ------------------------------------------------------------------ liveness

  /**
   * One live probe of every session (`probe.ts`). A session that fails is treated as lost
   * (reconnected), never left reported `connected`.
   */
  async probeAll(): Promise<void> {
    this.forgetStopped();
    await Promise.all(this.registry.all().map((record) => this.probe(record)));
  }

  private async probe(record: SessionRecord): Promise<void> {
    const generation = record.generation;
    const before = record.status;
    const verdict = await probeSession(record, this.options.probeTimeoutMs);
    // The session moved on while getState() was pending (a LOGOUT navigates the page, which makes
    // getState() fail): that event has been handled, and the probe's verdict is stale.
    if (verdict.kind === 'skipped' || !this.registry.isCurrent(record, generation) || record.status !== before) return;
    if (verdict.kind === 'alive') {
      record.lastSeenAliveAt = this.now();
      this.events.probe(record, true);
      return;
    }
    this.options.logger.warn('Live probe failed', { sessionId: record.sessionId, reason: verdict.reason });
    this.events.probe(record, false, verdict.reason);
    this.lifecycle.lost(record, generation, verdict.reason);
  }

  // ------------------------------------------------------------------ internals

  /**
   * Forgets the sessions that have held no browser (`disconnected`, `failed`) for
   * {@link STOPPED_SESSION_MEMORY_MS}: a worker that runs for months must not keep a record of every
   * session it ever gave up. Their folders stay: a `POST` starts one again from its saved login.
   */
  private forgetStopped(): void {
    const before = this.now().getTime() - STOPPED_SESSION_MEMORY_MS;
    for (const record of this.registry.all()) {
      if (holdsBrowser(record.status) || record.updatedAt.getTime() > before) continue;
      this.lifecycle.release(record, { remove: true, dispose: 'serial' });
      this.registry.forget(record.sessionId);
      this.options.logger.info('Session forgotten after a day stopped; its folder stays', { sessionId: record.sessionId, status: record.status });
    }
  }

  /** Sessions holding (or about to hold) a browser. */
  private used(): number {
    return this.registry.all().filter((r) => holdsBrowser(r.status)).length;
  }

  /** Launches a session the restore registered; the first caller does it, later ones find it launched. */
  private launchQueued(record: SessionRecord, origin: string): void {
    if (!record.queued) return;
    record.queued = false;
    this.options.logger.info('Creating WhatsApp session', { sessionId: record.sessionId, workspaceId: record.workspaceId, origin });
    this.launchInSerial(record);
  }

  /** Queues the record's launch on its session's chain (after `before`), setting `launched` and `inLine`. */
  private launchInSerial(record: SessionRecord, before: () => Promise<void> = async () => undefined): void {
    let inLine!: () => void;
    record.inLine = new Promise((resolve) => (inLine = resolve));
    record.launched = this.lifecycle.serial(record.sessionId, async () => {
      try {
        await before();
        await this.manifests.saveRecord(record, 'running');
        await this.lifecycle.launch(record, inLine);
      } finally {
        this.lifecycle.freeReservation(record);
      }
    });
    void record.launched.finally(inLine).catch(() => undefined);
  }

  private waitUntil(record: SessionRecord, done: (status: SessionStatus) => boolean, timeoutMs: number): Promise<void> {
    if (done(record.status) || !this.registry.holds(record)) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      };
      const unsubscribe = this.bus.subscribe((event) => {
        if (event.type === 'status' && event.session_id === record.sessionId && (done(record.status) || !this.registry.holds(record))) finish();
      });
      const timer = setTimeout(finish, timeoutMs);
    });
  }
}

/** The dashboard's tag of a QR (`dashboard/app.js` `tag()`: djb2 with xor, base 36), its image's cache key. */
export function qrTag(text: string): string {
  let hash = 5381;
  for (let i = 0; i < text.length; i++) hash = ((hash * 33) ^ text.charCodeAt(i)) >>> 0;
  return hash.toString(36);
}

/** How a start of this origin counts in the `launch` events. */
function launchKindOf(origin: string | undefined): LaunchKind {
  if (origin === 'restore') return 'restore';
  if (origin === 'reconnect') return 'reconnect';
  return 'start';
}
