import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkerSession } from '@wa-session-sync/shared';
import { EventBus } from '../events/bus';
import { silentLogger } from '../log';
import { HEARTBEAT_FILE, HISTORY_FILE, SessionHistory } from './history';

// A fake clock the test moves by hand.
let clock = new Date('2026-03-01T10:00:00.000Z');
const now = () => clock;
const advance = (ms: number) => {
  clock = new Date(clock.getTime() + ms);
};

let dir: string;
beforeEach(() => {
  clock = new Date('2026-03-01T10:00:00.000Z');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-history-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const folderOf = (sessionId: string) => path.join(dir, 'ws1', sessionId);
const saved = (sessionId: string) => ({ workspaceId: 'ws1', sessionId, folder: folderOf(sessionId) });

function status(bus: EventBus, sessionId: string, from: WorkerSession['status'] | null, to: WorkerSession['status'], reason: string | null = null) {
  bus.publish({ type: 'status', at: now(), session_id: sessionId, workspace_id: 'ws1', session: {} as WorkerSession, from, to, reason });
}

function historyLines(sessionId: string): unknown[] {
  return fs.readFileSync(path.join(folderOf(sessionId), HISTORY_FILE), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as unknown);
}

function newHistory(options: { maxEntries?: number } = {}) {
  const bus = new EventBus();
  const history = new SessionHistory({ sessionsDir: dir, logger: silentLogger(), now, heartbeatMs: 60_000, ...options });
  history.subscribe(bus);
  return { bus, history };
}

describe('SessionHistory', () => {
  it('appends every status change to the session folder, private (0600), and reads it back after a restart', async () => {
    const { bus, history } = newHistory();
    await history.start([]);
    status(bus, 's1', null, 'initializing');
    advance(1000);
    status(bus, 's1', 'initializing', 'connected');
    await history.flushAll();
    expect(historyLines('s1')).toEqual([
      { at: '2026-03-01T10:00:00.000Z', from: null, to: 'initializing', reason: null },
      { at: '2026-03-01T10:00:01.000Z', from: 'initializing', to: 'connected', reason: null },
    ]);
    expect(fs.statSync(path.join(folderOf('s1'), HISTORY_FILE)).mode & 0o777).toBe(0o600);
    await history.stop();
    // A clean stop: a worker stop recorded, no heartbeat left.
    expect(historyLines('s1')).toHaveLength(3);
    expect(fs.existsSync(path.join(dir, HEARTBEAT_FILE))).toBe(false);

    advance(60_000);
    const again = newHistory().history;
    await again.start([saved('s1')]);
    expect(again.entries('ws1', 's1', folderOf('s1')).map((e) => e.reason)).toEqual([null, null, 'WORKER_STOPPED', 'WORKER_STARTED']);
    // Connected 10:00:01-10:00:01 + stop at 10:00:01, started 10:01:01: 0 of 61 s meant to run, the rest down.
    const fields = again.viewFields('ws1', 's1', folderOf('s1'));
    expect(fields.uptime_24h).toBe(0);
    await again.stop();
  });

  it('after a crash, records the stop at the last heartbeat for a session meant to run, then the start', async () => {
    const { bus, history } = newHistory();
    await history.start([]);
    status(bus, 's1', null, 'initializing');
    status(bus, 's1', 'initializing', 'connected');
    await history.flushAll();
    advance(30_000);
    // The heartbeat as the interval writes it; then the process dies without stop().
    fs.writeFileSync(path.join(dir, HEARTBEAT_FILE), JSON.stringify({ at: clock.toISOString() }));
    const heartbeatAt = clock.toISOString();
    advance(20_000);
    const after = newHistory().history;
    await after.start([saved('s1')]);
    const entries = after.entries('ws1', 's1', folderOf('s1'));
    expect(entries.slice(-2)).toEqual([
      { at: heartbeatAt, from: null, to: null, reason: 'WORKER_STOPPED' },
      { at: clock.toISOString(), from: null, to: null, reason: 'WORKER_STARTED' },
    ]);
    // Up 30 s, down 20 s so far.
    expect(after.viewFields('ws1', 's1', folderOf('s1')).uptime_24h).toBeCloseTo(30 / 50, 10);
    await after.stop();
  });

  it('records no worker entries for a session stopped on purpose', async () => {
    const { bus, history } = newHistory();
    await history.start([]);
    status(bus, 's1', null, 'initializing');
    status(bus, 's1', 'initializing', 'disconnected', 'STOPPED');
    await history.stop();
    const after = newHistory().history;
    await after.start([saved('s1')]);
    expect(after.entries('ws1', 's1', folderOf('s1')).map((e) => e.reason)).toEqual([null, 'STOPPED']);
    expect(after.viewFields('ws1', 's1', folderOf('s1')).uptime_24h).toBeNull();
    await after.stop();
  });

  it('compacts a history over its bound, keeping the newest entries', async () => {
    const { bus, history } = newHistory({ maxEntries: 8 });
    await history.start([]);
    for (let i = 0; i < 9; i++) {
      status(bus, 's1', 'connected', 'reconnecting', `R${i}`);
      advance(1000);
    }
    await history.flushAll();
    const reasons = historyLines('s1').map((e) => (e as { reason: string }).reason);
    expect(reasons).toEqual(['R3', 'R4', 'R5', 'R6', 'R7', 'R8']);
    await history.stop();
  });

  it('drops entries over 30 days old (rewriting an old history once it is a day past the bound)', async () => {
    const { bus, history } = newHistory();
    await history.start([]);
    status(bus, 's1', null, 'initializing');
    advance(1000);
    status(bus, 's1', 'initializing', 'connected');
    advance(31 * 24 * 60 * 60 * 1000);
    status(bus, 's1', 'connected', 'reconnecting', 'BROWSER_GONE');
    await history.flushAll();
    expect(historyLines('s1')).toEqual([{ at: clock.toISOString(), from: 'connected', to: 'reconnecting', reason: 'BROWSER_GONE' }]);
    expect(fs.statSync(path.join(folderOf('s1'), HISTORY_FILE)).mode & 0o777).toBe(0o600);
    await history.stop();
  });

  it('filters by since, and counts messages of the last 24 h', async () => {
    const { bus, history } = newHistory();
    await history.start([]);
    status(bus, 's1', null, 'initializing');
    const message = { type: 'message' as const, session_id: 's1', workspace_id: 'ws1', message: { id: 'm', from: 'x', body: 'hi', timestamp: 0 } as never };
    bus.publish({ ...message, at: now() });
    advance(2 * 60 * 60 * 1000);
    status(bus, 's1', 'initializing', 'connected');
    bus.publish({ ...message, at: now() });
    bus.publish({ ...message, at: now() });
    expect(history.entries('ws1', 's1', folderOf('s1'), new Date(clock.getTime() - 1000)).map((e) => e.to)).toEqual(['connected']);
    expect(history.viewFields('ws1', 's1', folderOf('s1'))).toMatchObject({ messages_24h: 3, last_message_at: clock.toISOString() });
    advance(23 * 60 * 60 * 1000);
    expect(history.viewFields('ws1', 's1', folderOf('s1')).messages_24h).toBe(2);
    await history.stop();
    // Saved with the stop, read back at the next start.
    const after = newHistory().history;
    expect(after.viewFields('ws1', 's1', folderOf('s1'))).toMatchObject({ messages_24h: 2 });
  });

  it('never writes through a symlinked history file or a workspace folder linked out of the sessions folder', async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-outside-'));
    try {
      fs.mkdirSync(folderOf('s1'), { recursive: true });
      const target = path.join(outside, 'target');
      fs.writeFileSync(target, '');
      fs.symlinkSync(target, path.join(folderOf('s1'), HISTORY_FILE));
      fs.symlinkSync(outside, path.join(dir, 'ws2'));
      const { bus, history } = newHistory();
      await history.start([]);
      status(bus, 's1', null, 'initializing');
      bus.publish({ type: 'status', at: now(), session_id: 's2', workspace_id: 'ws2', session: {} as WorkerSession, from: null, to: 'initializing', reason: null });
      await history.flushAll();
      expect(fs.readFileSync(target, 'utf8')).toBe('');
      expect(fs.readdirSync(outside)).toEqual(['target']);
      await history.stop();
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });
});
