import fs from 'node:fs/promises';
import path from 'node:path';
import type { Knex } from 'knex';
import { acquireLease, authInfo, deleteAuth, loadAuth, releaseLease, renewLeases, saveAuth } from '@wa-session-sync/shared/dist/db';
import { restoreProfile, snapshotProfile, SnapshotTooLargeError } from '../auth/snapshot';
import { LeaseStoreUnavailableError, SessionLeasedElsewhereError } from '../errors';
import { LeaseKeeper, type LeaseBackend } from '../leases/keeper';
import type { Logger } from '../log';
import type { AuthEnd, AuthTarget, SessionAuth } from '../sessions/session-auth';
import { errorMessage, KeyedSerial, withTimeout } from '../util';

export interface PortableAuthOptions {
  knex: Knex;
  workerId: string;
  /** A lease's life (WHATSAPP_LEASE_TTL_SECONDS). */
  leaseTtlMs: number;
  /** A snapshot over this many bytes (compressed) is refused (WHATSAPP_AUTH_SNAPSHOT_MAX_MB). */
  snapshotMaxBytes: number;
  /** How often a connected session's profile is looked at again, saved only when it changed (WHATSAPP_AUTH_SNAPSHOT_INTERVAL_SECONDS). */
  snapshotIntervalMs: number;
  /** How long after `ready` the first save waits, for the page to finish writing its login. */
  settleMs?: number;
  logger: Logger;
  /** The lease of a session is lost, or could lapse: close its browser now. */
  onLeaseLost(sessionId: string): void;
  /** The session holds, or is about to hold, a browser here (its lease is kept; any other is let go). */
  wantsLease(sessionId: string): boolean;
  /** A person must act (the login too large to save). */
  alert(target: AuthTarget, kind: 'auth_snapshot_too_large', reason: string): void;
  /** Counted for the metrics: a lease lost while its session ran, a save's outcome. */
  observe?: {
    leaseLost(why: 'not_renewed' | 'deadline' | 'stale_fencing_token'): void;
    authSave(outcome: 'saved' | 'stale_fencing_token' | 'too_large' | 'failed'): void;
  };
}

/** `<folder>/.wa-auth.json`: the sha256 of the login this folder's profile was last saved as, or restored from. */
const MARKER = '.wa-auth.json';

/** How long any one statement may take before it counts as failed: a hung database must not hang a start. */
const STATEMENT_BOUND_MS = 10_000;

/**
 * `WHATSAPP_AUTH_STORE=postgres`: every session runs under a lease (`leases/keeper.ts`) and its
 * login (the WhatsApp origin's storage in the profile, `auth/snapshot.ts`) is saved in
 * `whatsapp_session_auth`, fenced by the lease's token: shortly after `ready`, then only when it
 * changed, and after Chromium has closed on a stop. A launch restores the saved login first when
 * another worker saved a newer one than this folder's profile holds.
 *
 * Written here rather than with whatsapp-web.js's `RemoteAuth`: that one deletes the saved login
 * on `CONFLICT` (a stale worker wipes the good copy), saves nothing on a stop, and has no place
 * for a fencing token.
 */
export class PortableAuth implements SessionAuth {
  readonly kind = 'postgres' as const;
  readonly keeper: LeaseKeeper;
  /** Claims of one session one after another: two starts at once take one lease, not two tokens. */
  private readonly claims = new KeyedSerial();
  /** Saves of one session one after another. */
  private readonly saves = new KeyedSerial();
  /** The sha256 last saved (or restored) per session: an unchanged profile is not written again. */
  private readonly lastSaved = new Map<string, string>();
  /** The pending first save and the cadence of each connected session. */
  private readonly timers = new Map<string, { settle?: NodeJS.Timeout; every?: NodeJS.Timeout }>();
  /** Sessions whose too-large login was reported: once, not at every cadence. */
  private readonly tooLarge = new Set<string>();
  private sweep: NodeJS.Timeout | null = null;
  /** Sessions whose profile here is the newest login (checked or restored by their launch): only those are saved. */
  private readonly current = new Set<string>();
  /** When each lease was taken: a claim the caller has not yet registered its session for is not swept. */
  private readonly claimedAt = new Map<string, number>();
  /** The browser (its process group's pid) the watchdog watches, per session. */
  private readonly browsers = new Map<string, number>();

  constructor(private readonly options: PortableAuthOptions) {
    const { knex, workerId } = options;
    const ttlSeconds = options.leaseTtlMs / 1000;
    const backend: LeaseBackend = {
      acquire: async ({ sessionId, workspaceId }) => {
        const result = await bounded(acquireLease(knex, { sessionId, workspaceId, workerId, ttlSeconds }), 'acquiring a lease');
        return result.acquired ? { acquired: true, token: result.token } : { acquired: false, holder: result.holder, expiresAt: result.expiresAt };
      },
      renew: (leases) => renewLeases(knex, workerId, leases, ttlSeconds),
      release: (sessionId, token) => bounded(releaseLease(knex, sessionId, token), 'releasing a lease'),
    };
    this.keeper = new LeaseKeeper({
      backend,
      ttlMs: options.leaseTtlMs,
      logger: options.logger,
      onLost: (sessionId, why) => {
        options.observe?.leaseLost(why);
        this.stopSaving(sessionId);
        options.logger.warn('Session lease lost', { sessionId, why });
        options.onLeaseLost(sessionId);
      },
    });
  }

  /** Starts renewing, and letting go of the leases of sessions that no longer run here. */
  start(): void {
    this.keeper.start();
    this.sweep = setInterval(() => void this.releaseUnwanted(), Math.max(1000, Math.floor(this.options.leaseTtlMs / 3)));
    this.sweep.unref();
  }

  claim(target: AuthTarget): Promise<{ fresh: boolean }> {
    return this.claims.run(target.sessionId, async () => {
      if (this.keeper.tokenOf(target.sessionId) !== null) return { fresh: false };
      let result;
      try {
        result = await this.keeper.acquire(target.sessionId, target.workspaceId);
      } catch (error) {
        this.options.logger.warn('Cannot take a session lease', { sessionId: target.sessionId, error: errorMessage(error) });
        throw new LeaseStoreUnavailableError(target.sessionId, errorMessage(error));
      }
      if (!result.acquired) throw new SessionLeasedElsewhereError(target.sessionId, result.holder, result.expiresAt);
      this.options.logger.info('Session lease taken', { sessionId: target.sessionId, token: result.token });
      this.claimedAt.set(target.sessionId, Date.now());
      return { fresh: true };
    });
  }

  async beforeLaunch(target: AuthTarget): Promise<void> {
    await this.claim(target);
    this.current.delete(target.sessionId);
    const token = this.keeper.tokenOf(target.sessionId);
    const info = await bounded(authInfo(this.options.knex, target.sessionId), 'reading the saved login');
    if (!info) {
      // Nothing saved yet: this profile (a first pairing, or a login from before the store) is the login.
      this.current.add(target.sessionId);
      return;
    }
    const marker = await readMarker(target.folder);
    const profile = profileDir(target.folder);
    if (marker?.sha256 === info.sha256 && (await exists(profile))) {
      // This profile was saved as that login, or restored from it: nobody saved a newer one since.
      this.lastSaved.set(target.sessionId, info.sha256);
      this.current.add(target.sessionId);
      return;
    }
    const started = Date.now();
    const saved = await bounded(loadAuth(this.options.knex, target.sessionId), 'loading the saved login');
    if (!saved) return;
    const { files } = await restoreProfile(profile, saved.data);
    await writeMarker(target.folder, saved.sha256);
    this.lastSaved.set(target.sessionId, saved.sha256);
    this.current.add(target.sessionId);
    this.options.logger.info('Login restored from the database', {
      sessionId: target.sessionId,
      bytes: saved.sizeBytes,
      files,
      savedBy: saved.savedBy,
      savedToken: saved.token,
      token,
      ms: Date.now() - started,
    });
  }

  browserStarted(target: AuthTarget, pid: number): void {
    this.browsers.set(target.sessionId, pid);
    this.keeper.attachBrowser(target.sessionId, pid);
  }

  browserClosed(target: AuthTarget, pid: number): void {
    // A later launch's browser may be attached already: only this one is forgotten.
    if (this.browsers.get(target.sessionId) !== pid) return;
    this.browsers.delete(target.sessionId);
    this.keeper.detachBrowser(target.sessionId);
  }

  ready(target: AuthTarget): void {
    this.stopSaving(target.sessionId);
    const timers: { settle?: NodeJS.Timeout; every?: NodeJS.Timeout } = {};
    timers.settle = setTimeout(() => {
      void this.save(target, 'settled');
      timers.every = setInterval(() => void this.save(target, 'cadence'), this.options.snapshotIntervalMs);
      timers.every.unref();
    }, this.options.settleMs ?? 5000);
    timers.settle.unref();
    this.timers.set(target.sessionId, timers);
  }

  paused(target: AuthTarget): void {
    // The browser stays watched until it has exited (browserClosed): its close may hang.
    this.stopSaving(target.sessionId);
  }

  loggedOutByPhone(target: AuthTarget): void {
    void this.saves.run(target.sessionId, () => this.deleteSaved(target));
  }

  async ended(target: AuthTarget, how: AuthEnd): Promise<void> {
    this.stopSaving(target.sessionId);
    try {
      if (this.keeper.tokenOf(target.sessionId) === null) return;
      if (how === 'stopped') await this.save(target, 'final');
      else if (how === 'logged_out') await this.saves.run(target.sessionId, () => this.deleteSaved(target));
      await this.keeper.release(target.sessionId);
      this.lastSaved.delete(target.sessionId);
      this.claimedAt.delete(target.sessionId);
      this.current.delete(target.sessionId);
    } catch (error) {
      this.options.logger.warn('Ending a session lease failed', { sessionId: target.sessionId, error: errorMessage(error) });
    }
  }

  async close(): Promise<void> {
    if (this.sweep) clearInterval(this.sweep);
    for (const sessionId of [...this.timers.keys()]) this.stopSaving(sessionId);
    await this.keeper.close();
  }

  /** Saves the profile's login when it changed since the last save, under the session's current lease. Never throws. */
  private save(target: AuthTarget, why: 'settled' | 'cadence' | 'final'): Promise<void> {
    return this.saves.run(target.sessionId, async () => {
      const { sessionId } = target;
      const token = this.keeper.tokenOf(sessionId);
      // Only a profile this worker launched on, once made the newest login, is ever saved: a
      // session claimed and never launched here (a restore cut short by a stop) may hold an older one.
      if (token === null || !this.current.has(sessionId)) return;
      try {
        const started = Date.now();
        const snapshot = await snapshotProfile(profileDir(target.folder), { maxBytes: this.options.snapshotMaxBytes });
        if (!snapshot || snapshot.sha256 === this.lastSaved.get(sessionId)) return;
        const result = await bounded(
          saveAuth(this.options.knex, {
            sessionId,
            workspaceId: target.workspaceId,
            workerId: this.options.workerId,
            token,
            data: snapshot.data,
            sha256: snapshot.sha256,
          }),
          'saving the login',
        );
        if (result === 'stale_fencing_token') {
          // Another worker took the session over: this one must not run it any more.
          this.options.logger.warn('stale_fencing_token: the login was not saved, another worker holds the session', { sessionId, token, why });
          this.options.observe?.authSave('stale_fencing_token');
          this.options.observe?.leaseLost('stale_fencing_token');
          // Forgotten before anything relaunches it: the next claim asks the database again.
          await this.keeper.release(sessionId);
          this.stopSaving(sessionId);
          this.options.onLeaseLost(sessionId);
          return;
        }
        this.options.observe?.authSave('saved');
        this.lastSaved.set(sessionId, snapshot.sha256);
        this.tooLarge.delete(sessionId);
        await writeMarker(target.folder, snapshot.sha256);
        this.options.logger.info('Login saved to the database', { sessionId, why, bytes: snapshot.sizeBytes, files: snapshot.files, ms: Date.now() - started });
      } catch (error) {
        if (error instanceof SnapshotTooLargeError) {
          this.options.observe?.authSave('too_large');
          if (!this.tooLarge.has(sessionId)) {
            this.tooLarge.add(sessionId);
            this.options.logger.error('Login too large to save (WHATSAPP_AUTH_SNAPSHOT_MAX_MB): it cannot move to another worker without a QR', {
              sessionId,
              bytes: error.sizeBytes,
              maxBytes: error.maxBytes,
            });
            this.options.alert(target, 'auth_snapshot_too_large', `${error.sizeBytes} bytes over ${error.maxBytes}`);
          }
          return;
        }
        this.options.observe?.authSave('failed');
        this.options.logger.warn('Saving the login failed', { sessionId, why, error: errorMessage(error) });
      }
    });
  }

  /** A real logout: the saved login deleted under the current lease (a stale worker's delete changes nothing). */
  private async deleteSaved(target: AuthTarget): Promise<void> {
    const token = this.keeper.tokenOf(target.sessionId);
    if (token === null) return;
    try {
      const result = await bounded(deleteAuth(this.options.knex, target.sessionId, token), 'deleting the login');
      if (result === 'stale_fencing_token') {
        this.options.logger.warn('stale_fencing_token: the saved login was not deleted, another worker holds the session', { sessionId: target.sessionId, token });
        await this.keeper.release(target.sessionId);
        this.options.onLeaseLost(target.sessionId);
        return;
      }
      this.lastSaved.delete(target.sessionId);
      await fs.rm(path.join(target.folder, MARKER), { force: true });
      this.options.logger.info('Saved login deleted (logged out)', { sessionId: target.sessionId, result });
    } catch (error) {
      this.options.logger.warn('Deleting the saved login failed', { sessionId: target.sessionId, error: errorMessage(error) });
    }
  }

  private stopSaving(sessionId: string): void {
    const timers = this.timers.get(sessionId);
    if (!timers) return;
    clearTimeout(timers.settle);
    clearInterval(timers.every);
    this.timers.delete(sessionId);
  }

  /** Lets go of the leases of sessions that no longer hold a browser here (given up, forgotten). */
  private async releaseUnwanted(): Promise<void> {
    const settled = Date.now() - Math.max(1000, this.options.leaseTtlMs / 3);
    for (const { sessionId } of this.keeper.held()) {
      if (this.options.wantsLease(sessionId) || (this.claimedAt.get(sessionId) ?? 0) > settled) continue;
      // Their ends ran on the session's chain already, unless a path skipped them: a claim not followed by a start.
      await this.claims.run(sessionId, async () => {
        if (this.options.wantsLease(sessionId)) return;
        await this.keeper.release(sessionId);
        this.claimedAt.delete(sessionId);
      });
    }
  }
}

function profileDir(folder: string): string {
  return path.join(folder, 'session');
}

function bounded<T>(work: Promise<T>, what: string): Promise<T> {
  return withTimeout(work, STATEMENT_BOUND_MS, what);
}

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

async function readMarker(folder: string): Promise<{ sha256: string } | null> {
  try {
    const parsed = JSON.parse(await fs.readFile(path.join(folder, MARKER), 'utf8')) as { sha256?: unknown };
    return typeof parsed.sha256 === 'string' ? { sha256: parsed.sha256 } : null;
  } catch {
    return null;
  }
}

async function writeMarker(folder: string, sha256: string): Promise<void> {
  await fs.mkdir(folder, { recursive: true, mode: 0o700 });
  const file = path.join(folder, MARKER);
  const temp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temp, JSON.stringify({ sha256, at: new Date().toISOString() }), { mode: 0o600 });
  await fs.rename(temp, file);
}
