import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { WorkerSession } from '@wa-session-sync/shared';
import type { EventBus, WorkerEvent } from '../events/bus';
import type { Logger } from '../log';
import { errorMessage, KeyedSerial } from '../util';
import type { SavedSession } from './manifest';
import { stateAfter, uptimeShare, WORKER_STARTED, WORKER_STOPPED, type HistoryEntry } from './uptime';

/** Each session's history, one JSON entry a line, appended, in the session's folder. */
export const HISTORY_FILE = 'history.jsonl';
/** Each session's received-message counts per minute (last 24 h) and last message time, in its folder. */
export const MESSAGES_FILE = 'messages.json';
/** The worker's heartbeat in the sessions folder: `{"at":"<ISO time>"}`, rewritten atomically every interval. */
export const HEARTBEAT_FILE = '.wa-worker.heartbeat';
/** How often the heartbeat is written: a crash's downtime starts at most this long before the real crash. */
export const DEFAULT_HEARTBEAT_MS = 10_000;
/** A session's history keeps at most this many entries... */
export const MAX_HISTORY_ENTRIES = 2000;
/** ...none older than this. */
export const MAX_HISTORY_AGE_MS = 30 * 24 * 60 * 60 * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;
const MINUTE_MS = 60_000;
// O_NOFOLLOW: a history, messages or heartbeat file that is a symlink (to anywhere) is refused,
// never written through: the worker runs with the credentials of every session.
const APPEND_FLAGS = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW;
const CREATE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW;

/** The fields the history adds to a session's view. */
export type HistoryViewFields = Pick<WorkerSession, 'uptime_24h' | 'uptime_7d' | 'last_message_at' | 'messages_24h'>;

interface Loaded {
  folder: string;
  entries: HistoryEntry[];
  /** Minute index (ms / 60 000) -> messages received in that minute; the last 24 h only. */
  minutes: Map<number, number>;
  lastMessageAt: string | null;
  messagesDirty: boolean;
  /**
   * The last uptimes computed, with what they were computed from: the dashboard's stream sends
   * every view after every status change of any session, and a replay is up to 2,000 entries twice.
   */
  uptimes?: { entries: HistoryEntry[]; length: number; second: number; day: number | null; week: number | null };
}

export interface SessionHistoryOptions {
  sessionsDir: string;
  logger: Logger;
  now?: () => Date;
  heartbeatMs?: number;
  maxEntries?: number;
  maxAgeMs?: number;
}

/**
 * Every session's history (status transitions, worker starts and stops) and message counts, kept
 * in its folder so they survive restarts; one subscriber of the event bus, added without touching
 * the others. Files are written with the worker's umask (0600), never through a symlink, and only
 * in a session folder that resolves inside the sessions folder. Writes of one session run in order.
 *
 * A crash (SIGKILL) records nothing, so the worker writes a heartbeat; the next start finds it (a
 * clean stop removes it) and records a worker stop at its time for every session meant to run,
 * then a worker start: the time between counts as down. Messages are counted per minute in memory
 * and saved with each heartbeat (a crash loses at most one interval of counts, never the history).
 *
 * Files are read synchronously, once per session and worker run: the session view that carries
 * the uptime is built synchronously, and a history is 2,000 short lines at most (~200 KB).
 */
export class SessionHistory {
  private readonly loaded = new Map<string, Loaded>();
  private readonly writes = new KeyedSerial();
  private readonly now: () => Date;
  private readonly heartbeatMs: number;
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;
  private readonly heartbeatFile: string;
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private stopped = false;

  constructor(private readonly options: SessionHistoryOptions) {
    this.now = options.now ?? (() => new Date());
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.maxEntries = options.maxEntries ?? MAX_HISTORY_ENTRIES;
    this.maxAgeMs = options.maxAgeMs ?? MAX_HISTORY_AGE_MS;
    this.heartbeatFile = path.join(options.sessionsDir, HEARTBEAT_FILE);
  }

  /** Records what the bus announces: status changes and messages. Returns the unsubscribe. */
  subscribe(bus: EventBus): () => void {
    return bus.subscribe((event) => this.onEvent(event));
  }

  /**
   * At the worker's start, before the saved sessions are registered: closes the downtime of a
   * crash (a worker stop at the heartbeat's time for every saved session meant to run that has no
   * stop recorded), records a worker start for each, then writes the heartbeat every interval.
   */
  async start(saved: readonly SavedSession[]): Promise<void> {
    const heartbeat = this.readHeartbeat();
    const startedAt = this.now().toISOString();
    for (const session of saved) {
      const loaded = this.load(session.workspaceId, session.sessionId, session.folder);
      const state = stateAfter(loaded.entries);
      if (!state.meant) continue;
      if (!state.workerStopped) {
        // No heartbeat (removed by hand, or a history older than this code): the last entry is
        // the last sign of life known, so the downtime starts there.
        const lastAt = loaded.entries[loaded.entries.length - 1]?.at ?? startedAt;
        const stopAt = heartbeat !== null && heartbeat > lastAt ? heartbeat : lastAt;
        this.append(loaded, { at: stopAt, from: null, to: null, reason: WORKER_STOPPED });
      }
      this.append(loaded, { at: startedAt, from: null, to: null, reason: WORKER_STARTED });
    }
    await this.flushAll();
    await this.writeHeartbeat();
    this.timer = setInterval(() => void this.tick(), this.heartbeatMs);
    this.timer.unref();
  }

  /**
   * Clean shutdown (a step of the shutdown path, after the sessions closed): a worker stop for every
   * session meant to run, the message counts saved, the heartbeat removed (so the next start finds
   * no crash). Status changes announced once stopping are not recorded: closing the sessions for a
   * restart is not a stop anyone asked for.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopping = true;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const at = this.now().toISOString();
    for (const loaded of this.loaded.values()) {
      const state = stateAfter(loaded.entries);
      if (state.meant && !state.workerStopped) this.append(loaded, { at, from: null, to: null, reason: WORKER_STOPPED });
      if (loaded.messagesDirty) this.saveMessages(loaded);
    }
    await this.flushAll();
    await fsp.rm(this.heartbeatFile, { force: true }).catch((error: unknown) => this.options.logger.warn('Could not remove the heartbeat', { error: errorMessage(error) }));
  }

  /** The session's history, oldest first, those at or after `since` only when given. */
  entries(workspaceId: string, sessionId: string, folder: string, since?: Date): HistoryEntry[] {
    const loaded = this.load(workspaceId, sessionId, folder);
    const from = since?.getTime() ?? -Infinity;
    return loaded.entries.filter((entry) => Date.parse(entry.at) >= from).map((entry) => ({ ...entry }));
  }

  /** The session view's history fields (`uptime_24h`, `uptime_7d`, `last_message_at`, `messages_24h`). */
  viewFields(workspaceId: string, sessionId: string, folder: string): HistoryViewFields {
    const loaded = this.load(workspaceId, sessionId, folder);
    const now = this.now();
    const firstMinute = Math.floor((now.getTime() - DAY_MS) / MINUTE_MS) + 1;
    let messages = 0;
    for (const [minute, count] of loaded.minutes) if (minute >= firstMinute) messages += count;
    // Recomputed once a second at most while nothing was appended (the share moves with the clock).
    const second = Math.floor(now.getTime() / 1000);
    const cached = loaded.uptimes;
    const uptimes =
      cached && cached.entries === loaded.entries && cached.length === loaded.entries.length && cached.second === second
        ? cached
        : (loaded.uptimes = {
            entries: loaded.entries,
            length: loaded.entries.length,
            second,
            day: uptimeShare(loaded.entries, new Date(now.getTime() - DAY_MS), now),
            week: uptimeShare(loaded.entries, new Date(now.getTime() - 7 * DAY_MS), now),
          });
    return {
      uptime_24h: uptimes.day,
      uptime_7d: uptimes.week,
      last_message_at: loaded.lastMessageAt,
      messages_24h: messages,
    };
  }

  /** Resolves once every write queued so far is done (tests, shutdown). */
  async flushAll(): Promise<void> {
    await Promise.all([...this.loaded.values()].map((loaded) => this.writes.run(loaded.folder, async () => undefined)));
  }

  private onEvent(event: WorkerEvent): void {
    if (event.type === 'worker' && event.state === 'stopping') this.stopping = true;
    if (this.stopping) return;
    if (event.type === 'status') {
      const loaded = this.load(event.workspace_id, event.session_id);
      this.append(loaded, { at: event.at.toISOString(), from: event.from, to: event.to, reason: event.reason });
    } else if (event.type === 'message') {
      const loaded = this.load(event.workspace_id, event.session_id);
      const minute = Math.floor(event.at.getTime() / MINUTE_MS);
      loaded.minutes.set(minute, (loaded.minutes.get(minute) ?? 0) + 1);
      loaded.lastMessageAt = event.at.toISOString();
      loaded.messagesDirty = true;
    }
  }

  private async tick(): Promise<void> {
    await this.writeHeartbeat();
    for (const loaded of this.loaded.values()) if (loaded.messagesDirty) this.saveMessages(loaded);
  }

  private load(workspaceId: string, sessionId: string, folder = path.join(this.options.sessionsDir, workspaceId, sessionId)): Loaded {
    const key = `${workspaceId}/${sessionId}`;
    let loaded = this.loaded.get(key);
    if (loaded) return loaded;
    loaded = { folder, entries: [], minutes: new Map(), lastMessageAt: null, messagesDirty: false };
    this.loaded.set(key, loaded);
    if (!this.insideSync(folder)) {
      this.options.logger.warn('Session folder outside the sessions folder: its history is not read or written', { folder });
      return loaded;
    }
    const history = this.readSync(path.join(folder, HISTORY_FILE));
    for (const line of history?.split('\n') ?? []) {
      const entry = parseEntry(line);
      if (entry) loaded.entries.push(entry);
    }
    const messages = this.readSync(path.join(folder, MESSAGES_FILE));
    if (messages) {
      try {
        const data = JSON.parse(messages) as { last_message_at?: unknown; minutes?: Record<string, unknown> };
        if (typeof data.last_message_at === 'string') loaded.lastMessageAt = data.last_message_at;
        for (const [minute, count] of Object.entries(data.minutes ?? {})) {
          if (Number.isInteger(Number(minute)) && typeof count === 'number' && count > 0) loaded.minutes.set(Number(minute), count);
        }
      } catch {
        this.options.logger.warn('Unreadable message counts: starting again from none', { folder });
      }
    }
    return loaded;
  }

  /** Appends to memory at once, to the file in order; compacts when over a bound. */
  private append(loaded: Loaded, entry: HistoryEntry): void {
    loaded.entries.push(entry);
    const compact = this.overBounds(loaded.entries);
    if (compact) loaded.entries = this.bounded(loaded.entries);
    const snapshot = compact ? [...loaded.entries] : null;
    void this.writes.run(loaded.folder, async () => {
      try {
        if (!(await this.inside(loaded.folder))) return;
        if (snapshot) await this.replaceFile(loaded.folder, HISTORY_FILE, snapshot.map((e) => JSON.stringify(e) + '\n').join(''));
        else {
          const handle = await fsp.open(path.join(loaded.folder, HISTORY_FILE), APPEND_FLAGS, 0o600);
          try {
            await handle.write(JSON.stringify(entry) + '\n');
          } finally {
            await handle.close();
          }
        }
      } catch (error) {
        this.options.logger.warn('Could not write the session history', { folder: loaded.folder, error: errorMessage(error) });
      }
    });
  }

  /**
   * Over 2,000 entries, or an entry over 30 days old by a day more (so an old history is rewritten
   * at most once a day, not on every append). Compaction keeps three quarters of the bound, so it
   * runs once every ~500 entries rather than on every append once full.
   */
  private overBounds(entries: readonly HistoryEntry[]): boolean {
    if (entries.length > this.maxEntries) return true;
    const first = entries[0];
    return first !== undefined && Date.parse(first.at) < this.now().getTime() - this.maxAgeMs - DAY_MS;
  }

  private bounded(entries: readonly HistoryEntry[]): HistoryEntry[] {
    const oldest = this.now().getTime() - this.maxAgeMs;
    const recent = entries.filter((entry) => Date.parse(entry.at) >= oldest);
    return recent.length > this.maxEntries ? recent.slice(recent.length - Math.floor((this.maxEntries * 3) / 4)) : recent;
  }

  private saveMessages(loaded: Loaded): void {
    loaded.messagesDirty = false;
    const firstMinute = Math.floor((this.now().getTime() - DAY_MS) / MINUTE_MS);
    for (const minute of loaded.minutes.keys()) if (minute < firstMinute) loaded.minutes.delete(minute);
    const body = JSON.stringify({ last_message_at: loaded.lastMessageAt, minutes: Object.fromEntries(loaded.minutes) }) + '\n';
    void this.writes.run(loaded.folder, async () => {
      try {
        if (await this.inside(loaded.folder)) await this.replaceFile(loaded.folder, MESSAGES_FILE, body);
      } catch (error) {
        this.options.logger.warn('Could not write the message counts', { folder: loaded.folder, error: errorMessage(error) });
      }
    });
  }

  /** Writes a new file beside `name` (never through a symlink) and renames it over (atomic). */
  private async replaceFile(folder: string, name: string, body: string): Promise<void> {
    const temp = path.join(folder, `.${name}.${process.pid}.${Date.now()}.tmp`);
    const handle = await fsp.open(temp, CREATE_FLAGS, 0o600);
    try {
      await handle.writeFile(body);
    } finally {
      await handle.close();
    }
    await fsp.rename(temp, path.join(folder, name));
  }

  private async writeHeartbeat(): Promise<void> {
    try {
      await this.replaceFile(this.options.sessionsDir, HEARTBEAT_FILE, JSON.stringify({ at: this.now().toISOString() }) + '\n');
    } catch (error) {
      this.options.logger.warn('Could not write the heartbeat', { error: errorMessage(error) });
    }
  }

  /** The last heartbeat's time (ISO), or null when there is none (first start, or the last stop was clean). */
  private readHeartbeat(): string | null {
    const raw = this.readSync(this.heartbeatFile);
    if (raw === null) return null;
    try {
      const at = (JSON.parse(raw) as { at?: unknown }).at;
      return typeof at === 'string' && Number.isFinite(Date.parse(at)) ? new Date(at).toISOString() : null;
    } catch {
      return null;
    }
  }

  private readSync(file: string): string | null {
    let fd: number;
    try {
      fd = fs.openSync(file, READ_FLAGS);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') this.options.logger.warn('Could not read a history file', { file, error: code ?? errorMessage(error) });
      return null;
    }
    try {
      return fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  }

  /** The folder (or, while it does not exist yet, its parent) resolves inside the sessions folder, through no symlink. */
  private insideSync(folder: string): boolean {
    return checkInside(this.options.sessionsDir, folder, (p) => fs.realpathSync(p));
  }

  private async inside(folder: string): Promise<boolean> {
    // The folder is made by the manifest's first write; a status may come just before it. Checked
    // before making it (a workspace folder linked out must not get a folder made through it) and after.
    if (!this.insideSync(folder)) return false;
    await fsp.mkdir(folder, { recursive: true });
    return this.insideSync(folder);
  }
}

function checkInside(root: string, folder: string, realpath: (p: string) => string): boolean {
  const relative = path.relative(root, folder);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return false;
  try {
    return realpath(folder) === path.join(realpath(root), relative);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return false;
    // Not made yet: its workspace folder must resolve inside (or not exist either).
    const parent = path.dirname(folder);
    return parent === path.resolve(root) || path.resolve(parent) === path.resolve(root) || checkInside(root, parent, realpath);
  }
}

const STATUS_OR_NULL = (value: unknown) => value === null || typeof value === 'string';

/** One line of `history.jsonl`, or null for a broken one (a line cut by a crash is skipped). */
function parseEntry(line: string): HistoryEntry | null {
  if (line.trim() === '') return null;
  try {
    const data = JSON.parse(line) as Partial<HistoryEntry>;
    if (typeof data.at !== 'string' || !Number.isFinite(Date.parse(data.at))) return null;
    if (!STATUS_OR_NULL(data.from) || !STATUS_OR_NULL(data.to) || !STATUS_OR_NULL(data.reason)) return null;
    return { at: data.at, from: data.from ?? null, to: data.to ?? null, reason: data.reason ?? null };
  } catch {
    return null;
  }
}
