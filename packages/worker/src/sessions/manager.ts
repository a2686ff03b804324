import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import type { MessagePayload, SessionStatus, WorkerSession } from '@wa-session-sync/shared';
import { findProcessesAsync, killProcesses, readStat } from '../browser/orphans';
import { profileLockHolder, removeSingletonFiles, sessionFolder } from '../browser/profile';
import { SessionNotFoundError, SessionStateError } from '../errors';
import type { EventSink } from '../events/webhook';
import type { Logger } from '../log';
import type { ClientEvents, SessionClient, SessionDriver } from './driver';
import { findSavedSession, writeManifest, type SessionManifest } from './manifest';
import { nextReconnect } from './reconnect';
import { holdsBrowser, transition, type SessionEvent } from './state';
import { errorMessage, withTimeout } from './timeout';

export interface ManagerOptions {
  sessionsDir: string;
  driver: SessionDriver;
  logger: Logger;
  events: EventSink;
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
  now?: () => Date;
  random?: () => number;
}

export interface StartResult {
  /** true: a new client was launched (201); false: a live one already existed (200). */
  created: boolean;
  session: WorkerSession;
}

interface SessionRecord {
  workspaceId: string;
  sessionId: string;
  folder: string;
  status: SessionStatus;
  reason: string | null;
  qr: string | null;
  phone: string | null;
  updatedAt: Date;
  reconnectAttempts: number;
  lastSeenAliveAt: Date | null;
  client: SessionClient | null;
  /** The client's `initialize()` has resolved: from then on the probe may expect a live browser. */
  clientInitialized: boolean;
  /** Bumped whenever the client changes or is given up; events of older generations are stale. */
  generation: number;
  retryTimer: NodeJS.Timeout | null;
  /** Settles when the launch that created this record has returned (restore waits on it). */
  launched: Promise<void>;
}

/**
 * Owns every session: one explicit state machine each (`state.ts`), lifecycle operations for one
 * session run one after another (so two Chromium never share a profile), reconnects with backoff,
 * probes liveness, and reports every status change as an event.
 *
 * Emits `status` (WorkerSession) after every status change.
 */
export class SessionManager extends EventEmitter {
  private readonly sessions = new Map<string, SessionRecord>();
  /** Per-session operation chains, kept apart from records so they outlive a force cleanup. */
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly manifestWrites = new Map<string, Promise<void>>();
  private readonly disposals = new WeakMap<SessionClient, Promise<void>>();
  private closing = false;
  private readonly destroyTimeoutMs: number;
  private readonly now: () => Date;

  constructor(private readonly options: ManagerOptions) {
    super();
    this.destroyTimeoutMs = options.destroyTimeoutMs ?? 5000;
    this.now = options.now ?? (() => new Date());
  }

  // ------------------------------------------------------------------ queries

  list(workspaceId?: string): WorkerSession[] {
    return [...this.sessions.values()].filter((r) => workspaceId === undefined || r.workspaceId === workspaceId).map((r) => this.view(r));
  }

  /** One session; `SessionNotFoundError` when the worker does not hold it. */
  get(sessionId: string): WorkerSession {
    const record = this.sessions.get(sessionId);
    if (!record) throw new SessionNotFoundError(sessionId);
    return this.view(record);
  }

  has(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  /** A live Chromium of this host still holds the profile in `folder` (it is closing, or ours). */
  async profileHeld(folder: string): Promise<boolean> {
    return (await liveLockHolder(this.options.driver.profileDir(folder))) !== null;
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Starts a session. A live one is returned as it is (`created: false`) unless `replace` is set
   * (restore, reconnect route): then it is force-cleaned first. A dead one is always replaced.
   * Returns before whatsapp-web.js is ready; watch the status.
   */
  start(workspaceId: string, sessionId: string, options: { replace?: boolean; origin?: string } = {}): StartResult {
    const folder = sessionFolder(this.options.sessionsDir, workspaceId, sessionId);
    const existing = this.sessions.get(sessionId);
    if (existing && existing.workspaceId !== workspaceId) {
      throw new SessionStateError('session_workspace_mismatch', `Session ${sessionId} belongs to another workspace`);
    }
    if (this.closing) throw new SessionStateError('worker_stopping', 'The worker is shutting down');
    if (existing && holdsBrowser(existing.status) && !options.replace && !this.browserDied(existing)) {
      return { created: false, session: this.view(existing) };
    }
    // Registered synchronously, before any await, so a concurrent start sees it and answers 200.
    const record: SessionRecord = {
      workspaceId,
      sessionId,
      folder,
      status: 'initializing',
      reason: null,
      qr: null,
      phone: existing?.phone ?? null,
      updatedAt: this.now(),
      reconnectAttempts: 0,
      lastSeenAliveAt: null,
      client: null,
      clientInitialized: false,
      generation: 0,
      retryTimer: null,
      launched: Promise.resolve(),
    };
    const previousClient = existing?.client ?? null;
    if (existing) this.retire(existing);
    this.sessions.set(sessionId, record);
    this.options.logger.info('Creating WhatsApp session', { sessionId, workspaceId, origin: options.origin ?? 'api' });
    this.publishStatus(record, existing?.status ?? null);
    record.launched = this.serial(sessionId, async () => {
      if (previousClient) {
        this.options.logger.info('Force cleanup session', { sessionId });
        await this.disposeClient(record, previousClient);
      }
      await this.saveManifest(folder, this.manifest(record, 'running'));
      await this.launch(record);
    });
    return { created: true, session: this.view(record) };
  }

  /**
   * Restores a saved session (force-cleaning a present one first) and resolves once its launch
   * settled: connected, showing a QR, reconnecting or failed. Throws only what `start` throws
   * (an invalid id, the worker stopping).
   */
  async restore(workspaceId: string, sessionId: string, settleTimeoutMs = this.options.initTimeoutMs): Promise<WorkerSession> {
    const { settled } = await this.beginRestore(workspaceId, sessionId, settleTimeoutMs);
    return settled;
  }

  /**
   * {@link restore} in two steps: resolves once the browser is launched and WhatsApp Web loaded
   * (`initialize()` settled), with `settled` for the rest (the restore scheduler overlaps the
   * next launch with it).
   */
  async beginRestore(
    workspaceId: string,
    sessionId: string,
    settleTimeoutMs = this.options.initTimeoutMs,
  ): Promise<{ settled: Promise<WorkerSession> }> {
    const { session } = this.start(workspaceId, sessionId, { replace: true, origin: 'restore' });
    const record = this.sessions.get(session.session_id)!;
    await record.launched.catch(() => undefined);
    const settled = this.waitUntil(record, (s) => s !== 'initializing' && s !== 'authenticated', settleTimeoutMs).then(() => {
      const view = this.view(record);
      if (view.status === 'connected') this.options.logger.info(`✅ Session restored: ${sessionId}`, { sessionId, workspaceId });
      return view;
    });
    return { settled };
  }

  /** `POST /:id/reconnect`: force cleanup, then start again from saved auth. */
  async reconnect(sessionId: string): Promise<WorkerSession> {
    const record = this.sessions.get(sessionId);
    const workspaceId = record?.workspaceId ?? (await findSavedSession(this.options.sessionsDir, sessionId))?.workspaceId;
    if (!workspaceId) throw new SessionNotFoundError(sessionId);
    return this.start(workspaceId, sessionId, { replace: true, origin: 'reconnect' }).session;
  }

  /** `DELETE /:id`: stops the session and frees it; keeps its saved auth unless `logout`. */
  async stop(sessionId: string, options: { logout?: boolean } = {}): Promise<void> {
    const record = this.sessions.get(sessionId);
    const saved = record ?? (await findSavedSession(this.options.sessionsDir, sessionId));
    if (!saved) throw new SessionNotFoundError(sessionId);
    const current = this.sessions.get(sessionId);
    let client: SessionClient | null = null;
    let wasConnected = false;
    if (current) {
      client = current.client;
      wasConnected = current.status === 'connected';
      this.apply(current, 'stop', options.logout ? 'LOGGED_OUT' : 'STOPPED');
      this.retire(current);
      this.sessions.delete(sessionId);
    }
    // Disposed at once, not queued behind a launch still waiting on initialize(): closing its
    // browser is what ends that launch.
    if (current && client) {
      if (options.logout && wasConnected) {
        await withTimeout(client.logout(), this.destroyTimeoutMs, 'logout()').catch((error: unknown) =>
          this.options.logger.warn('Logout failed; removing the saved auth anyway', { sessionId, error: errorMessage(error) }),
        );
      }
      await this.disposeClient(current, client);
    }
    await this.serial(sessionId, async () => {
      const folder = current?.folder ?? saved.folder;
      if (options.logout) {
        await this.manifestWrites.get(folder);
        await fs.rm(folder, { recursive: true, force: true, maxRetries: 3 });
      } else {
        await this.saveManifest(folder, {
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
      await this.serial(sessionId, async () => {
        const record = this.sessions.get(sessionId);
        this.options.logger.info('Force cleanup session', { sessionId });
        if (!record) return;
        const client = record.client;
        this.retire(record);
        this.sessions.delete(sessionId);
        if (client) await this.disposeClient(record, client);
      });
    } catch (error) {
      this.options.logger.warn('Force cleanup failed', { sessionId, error: errorMessage(error) });
    }
  }

  /** Destroys every client within `timeoutMs` (keeping their auth), stops reconnecting. */
  async shutdown(timeoutMs: number): Promise<void> {
    this.closing = true;
    const records = [...this.sessions.values()];
    const work = records.map(async (record) => {
      const client = record.client;
      this.retire(record);
      if (client) await this.disposeClient(record, client, Math.min(this.destroyTimeoutMs, timeoutMs));
    });
    await withTimeout(Promise.all(work), timeoutMs, 'shutdown').catch(() => undefined);
    // Whatever still runs on a profile (a launch that was in flight) goes too.
    await Promise.all(records.map((record) => this.killProfileProcesses(record.folder)));
    this.sessions.clear();
  }

  // ------------------------------------------------------------------ liveness

  /**
   * One live probe of every session: the browser connected and the page open, and for a
   * `connected` session `getState()` answering CONNECTED within the probe timeout. A session that
   * fails is treated as lost (reconnected), never left reported `connected`.
   */
  async probeAll(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((record) => this.probe(record)));
  }

  private async probe(record: SessionRecord): Promise<void> {
    const client = record.client;
    const generation = record.generation;
    // A client still launching has no browser to look at yet; the init timeout bounds that phase.
    if (!client || !record.clientInitialized || !holdsBrowser(record.status)) return;
    if (!client.isAlive()) {
      this.lost(record, generation, 'BROWSER_GONE');
      return;
    }
    if (record.status !== 'connected') return;
    let failure: string | null = null;
    try {
      const state = await withTimeout(client.getState(), this.options.probeTimeoutMs, 'getState()');
      if (state !== 'CONNECTED') failure = `STATE_${state ?? 'UNKNOWN'}`;
    } catch (error) {
      failure = errorMessage(error).includes('did not settle') ? 'PROBE_TIMEOUT' : 'PROBE_FAILED';
    }
    // The session moved on while getState() was pending (a LOGOUT navigates the page, which makes
    // getState() fail): that event has been handled, and the probe's verdict is stale.
    if (this.isStale(record, generation) || record.status !== 'connected') return;
    if (failure) {
      this.options.logger.warn('Live probe failed', { sessionId: record.sessionId, reason: failure });
      this.lost(record, generation, failure);
    } else {
      record.lastSeenAliveAt = this.now();
    }
  }

  // ------------------------------------------------------------------ internals

  /** Runs `op` after every earlier operation on this session has settled. */
  private serial<T>(sessionId: string, op: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(sessionId) ?? Promise.resolve();
    const run = previous.then(op);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(sessionId, settled);
    void settled.then(() => {
      if (this.locks.get(sessionId) === settled) this.locks.delete(sessionId);
    });
    return run;
  }

  /** Makes a record inert: no more events from its client, no pending retry. */
  private retire(record: SessionRecord): void {
    record.generation++;
    record.client = null;
    record.clientInitialized = false;
    if (record.retryTimer) clearTimeout(record.retryTimer);
    record.retryTimer = null;
  }

  /** The session's browser is known dead though no event said so yet (the next probe would find it). */
  private browserDied(record: SessionRecord): boolean {
    return record.client !== null && record.clientInitialized && !record.client.isAlive();
  }

  private isStale(record: SessionRecord, generation: number): boolean {
    return this.sessions.get(record.sessionId) !== record || record.generation !== generation;
  }

  /** Launches a client for `record` (inside the session's serial chain). */
  private async launch(record: SessionRecord): Promise<void> {
    if (this.closing || this.sessions.get(record.sessionId) !== record) return;
    const profile = this.options.driver.profileDir(record.folder);
    // A Chromium of this host still on this profile goes first. After a crash of the worker it is
    // the earlier worker's, closing by itself since its pipe closed and saving the profile as it
    // goes (localStorage is written late): it gets a moment to finish, then it is killed. Any
    // other lock is stale (another host, a process gone) and is removed below.
    const holder = await liveLockHolder(profile);
    if (holder !== null) {
      const released = await waitForExit(holder, this.options.profileReleaseTimeoutMs ?? 3000);
      if (!released) await this.killProfileProcesses(record.folder);
    }
    const removed = await removeSingletonFiles(profile).catch(() => [] as string[]);
    if (removed.length > 0) this.options.logger.info('Removed stale Chromium lock files', { sessionId: record.sessionId, removed });
    // Stopped, replaced or shutting down while we looked at the profile.
    if (this.closing || this.sessions.get(record.sessionId) !== record) return;
    const generation = ++record.generation;
    const client = this.options.driver.create(
      { workspaceId: record.workspaceId, sessionId: record.sessionId, folder: record.folder },
      this.handlers(record, generation),
    );
    record.client = client;
    try {
      await withTimeout(client.initialize(), this.options.initTimeoutMs, 'initialize()');
      if (!this.isStale(record, generation)) record.clientInitialized = true;
      // Given up while it launched (stop, replace, shutdown): whoever did so may have found no
      // browser to close yet, so this launch closes its own.
      else await this.disposeClient(record, client);
    } catch (error) {
      if (this.isStale(record, generation)) {
        await this.disposeClient(record, client);
        return;
      }
      this.options.logger.warn('Session launch failed', { sessionId: record.sessionId, error: errorMessage(error) });
      this.lost(record, generation, 'LAUNCH_FAILED');
    }
  }

  private handlers(record: SessionRecord, generation: number): ClientEvents {
    const live = () => !this.isStale(record, generation);
    return {
      qr: (qr) => {
        if (!live()) return;
        record.qr = qr;
        this.apply(record, 'qr');
        this.options.events.publish({ ...this.envelope(record, 'session.qr'), payload: { qr } });
      },
      authenticated: () => {
        if (live()) this.apply(record, 'authenticated');
      },
      ready: (phone) => {
        if (!live()) return;
        record.phone = phone ?? record.phone;
        record.qr = null;
        record.reconnectAttempts = 0;
        record.lastSeenAliveAt = this.now();
        this.apply(record, 'ready', null);
        void this.saveManifest(record.folder, this.manifest(record, 'running'));
      },
      disconnected: (reason) => {
        if (!live()) return;
        this.options.logger.warn('Session disconnected', { sessionId: record.sessionId, reason });
        if (reason === 'LOGOUT') {
          // The library shows a new QR on the same client: the phone must link it again.
          record.phone = null;
          record.qr = null;
          record.reconnectAttempts = 0;
          this.apply(record, 'logout', 'LOGOUT');
          void this.saveManifest(record.folder, this.manifest(record, 'running'));
          return;
        }
        this.lost(record, generation, reason);
      },
      authFailure: (message) => {
        if (!live()) return;
        this.options.logger.warn('Authentication failed', { sessionId: record.sessionId, error: message });
        this.lost(record, generation, 'AUTH_FAILURE');
      },
      message: (message) => {
        if (!live()) return;
        this.options.events.publish({ ...this.envelope(record, 'message'), payload: message satisfies MessagePayload });
      },
      browserGone: (reason) => {
        if (!live()) return;
        this.options.logger.warn('Browser or page gone', { sessionId: record.sessionId, reason });
        this.lost(record, generation, reason);
      },
    };
  }

  /**
   * The session's client is lost (disconnected, browser or page died, probe failed, launch
   * failed): dispose of it, then retry with backoff, or settle on `disconnected` / `failed`.
   */
  private lost(record: SessionRecord, generation: number, reason: string): void {
    if (this.isStale(record, generation) || this.closing) return;
    const client = record.client;
    this.retire(record);
    if (client) void this.serial(record.sessionId, () => this.disposeClient(record, client));
    if (!this.options.autoReconnect) {
      this.apply(record, 'dropped', reason);
      return;
    }
    const decision = nextReconnect(
      {
        maxAttempts: this.options.maxReconnectAttempts,
        baseDelayMs: this.options.reconnectBaseDelayMs,
        maxDelayMs: this.options.reconnectMaxDelayMs,
      },
      record.reconnectAttempts,
      this.options.random,
    );
    if (decision.action === 'give_up') {
      this.options.logger.error('Reconnect attempts exhausted', { sessionId: record.sessionId, attempts: record.reconnectAttempts, reason });
      this.apply(record, 'exhausted', reason);
      return;
    }
    record.reconnectAttempts = decision.attempt;
    this.apply(record, 'lost', reason);
    this.options.logger.info('Reconnect scheduled', { sessionId: record.sessionId, attempt: decision.attempt, delayMs: decision.delayMs });
    const retryGeneration = record.generation;
    record.retryTimer = setTimeout(() => {
      record.retryTimer = null;
      if (this.isStale(record, retryGeneration)) return;
      void this.serial(record.sessionId, () => this.launch(record));
    }, decision.delayMs);
  }

  /** Destroys a client within the bound, then makes sure no Chromium is left on its profile. Never throws. */
  private disposeClient(record: SessionRecord, client: SessionClient, boundMs = this.destroyTimeoutMs): Promise<void> {
    // Idempotent: a client may be given up from two sides (a stop and its own stale launch).
    let disposal = this.disposals.get(client);
    if (!disposal) {
      disposal = this.destroyOrKill(record, client, boundMs);
      this.disposals.set(client, disposal);
    }
    return disposal;
  }

  private async destroyOrKill(record: SessionRecord, client: SessionClient, boundMs: number): Promise<void> {
    try {
      await withTimeout(client.destroy(), boundMs, 'destroy()');
    } catch (error) {
      this.options.logger.warn('Destroy did not finish; killing the browser', { sessionId: record.sessionId, error: errorMessage(error) });
    }
    await client.kill().catch(() => undefined);
    await this.killProfileProcesses(record.folder);
  }

  /** SIGKILLs any Chromium running on this session's profile (an orphan, or a launch we lost track of). */
  private async killProfileProcesses(folder: string): Promise<void> {
    const profile = this.options.driver.profileDir(folder);
    const killed = killProcesses(await findProcessesAsync([`--user-data-dir=${profile}`]));
    if (killed.length > 0) this.options.logger.warn('Killed Chromium left on a profile', { folder, pids: killed });
  }

  /** Applies a state machine event; publishes the status when it changed. Returns false for a stale event. */
  private apply(record: SessionRecord, event: SessionEvent, reason?: string | null): boolean {
    const next = transition(record.status, event);
    if (next === null) {
      this.options.logger.debug('Ignored session event', { sessionId: record.sessionId, status: record.status, event });
      return false;
    }
    const previous = record.status;
    if (reason !== undefined) record.reason = reason;
    if (next === previous) return true;
    record.status = next;
    record.updatedAt = this.now();
    this.options.logger.info('Session status changed', { sessionId: record.sessionId, status: next, previous, reason: record.reason });
    this.publishStatus(record, previous);
    return true;
  }

  private publishStatus(record: SessionRecord, previous: SessionStatus | null): void {
    this.options.events.publish({
      ...this.envelope(record, 'session.status'),
      payload: { status: record.status, previous, reason: record.reason },
    });
    this.emit('status', this.view(record));
  }

  private envelope<E extends 'session.status' | 'session.qr' | 'message'>(record: SessionRecord, event: E) {
    return { event, session_id: record.sessionId, workspace_id: record.workspaceId, timestamp: this.now().toISOString() };
  }

  private waitUntil(record: SessionRecord, done: (status: SessionStatus) => boolean, timeoutMs: number): Promise<void> {
    if (done(record.status) || this.sessions.get(record.sessionId) !== record) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.off('status', check);
        resolve();
      };
      const check = (session: WorkerSession) => {
        if (session.session_id === record.sessionId && (done(record.status) || this.sessions.get(record.sessionId) !== record)) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.on('status', check);
    });
  }

  /** Writes a manifest after the earlier writes of the same folder (a late write must not undo a DELETE). Never throws. */
  private saveManifest(folder: string, manifest: SessionManifest): Promise<void> {
    const previous = this.manifestWrites.get(folder) ?? Promise.resolve();
    const next = previous.then(() =>
      writeManifest(folder, manifest).catch((error: unknown) => {
        this.options.logger.warn('Could not write the session manifest', { folder, error: errorMessage(error) });
      }),
    );
    this.manifestWrites.set(folder, next);
    void next.then(() => {
      if (this.manifestWrites.get(folder) === next) this.manifestWrites.delete(folder);
    });
    return next;
  }

  private manifest(record: SessionRecord, desired: 'running' | 'stopped'): SessionManifest {
    return {
      workspace_id: record.workspaceId,
      session_id: record.sessionId,
      desired,
      phone_number: record.phone,
      updated_at: this.now().toISOString(),
    };
  }

  private view(record: SessionRecord): WorkerSession {
    return {
      session_id: record.sessionId,
      workspace_id: record.workspaceId,
      status: record.status,
      phone_number: record.status === 'qr_scanning' ? null : record.phone,
      updated_at: record.updatedAt.toISOString(),
      qr: record.status === 'qr_scanning' ? record.qr : null,
      reason: record.reason,
      reconnect_attempts: record.reconnectAttempts,
      last_seen_alive_at: record.lastSeenAliveAt?.toISOString() ?? null,
    };
  }
}

/** The pid of a live process of this host holding the profile's `SingletonLock`, else null. */
async function liveLockHolder(profile: string): Promise<number | null> {
  const holder = await profileLockHolder(profile);
  return holder && holder.host === os.hostname() && holder.pid > 0 && isRunning(holder.pid) ? holder.pid : null;
}

/** Resolves true once `pid` has exited, false if it still runs after `timeoutMs`. */
async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

/** Alive and not a zombie (an exited process nobody has reaped yet holds nothing). */
function isRunning(pid: number): boolean {
  if (!isAlive(pid)) return false;
  if (process.platform !== 'linux') return true;
  const stat = readStat(pid);
  return stat !== null && stat.state !== 'Z';
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
