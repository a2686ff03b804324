import { existsSync } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { REASONS } from '@wa-session-sync/shared';
import { CapacityExhaustedError, SessionNotFoundError } from '../src/errors';
import { ReconnectScheduler } from '../src/sessions/reconnect-scheduler';
import { readManifest, writeManifest } from '../src/sessions/manifest';
import { prepareRestore, runRestore } from '../src/sessions/restore';
import { waitFor } from './helpers';
import { sessionHarness, type SessionHarness } from './session-harness';

// The session manager's own rules (restore queue, launch gate, capacity, QR timeout) over the
// fake driver; api.test.ts covers the same manager through HTTP.

jest.setTimeout(20_000);

let h: SessionHarness;
afterEach(async () => {
  await h?.close();
});

const save = (sessionsDir: string, id: string) =>
  writeManifest(path.join(sessionsDir, 'w1', id), { workspace_id: 'w1', session_id: id, desired: 'running', phone_number: '628', updated_at: '' });

/** Counts clients whose initialize() is running, and the most at once. */
function trackLaunches(h: SessionHarness, ms = 30) {
  const seen = { now: 0, max: 0 };
  h.driver.configure = (c) => {
    c.onInitialize = async () => {
      seen.max = Math.max(seen.max, ++seen.now);
      await new Promise((r) => setTimeout(r, ms));
      seen.now--;
      setImmediate(() => c.emit.ready('628'));
    };
  };
  return seen;
}

describe('the restore queue', () => {
  it('lists every saved session before any launch, and a start of a queued one launches it once, now', async () => {
    h = await sessionHarness();
    for (const id of ['a1', 'a2', 'a3']) await save(h.sessionsDir, id);
    trackLaunches(h);
    const prepared = await prepareRestore({ manager: h.manager, sessionsDir: h.sessionsDir, logger: h.logger });
    expect(h.manager.list().map((s) => [s.session_id, s.status]).sort()).toEqual([
      ['a1', 'initializing'],
      ['a2', 'initializing'],
      ['a3', 'initializing'],
    ]);
    expect(h.driver.clients).toHaveLength(0);

    // A sync at once after the restart: POSTs a3, still waiting in the queue.
    const started = h.manager.start('w1', 'a3');
    expect(started).toMatchObject({ created: false, session: { session_id: 'a3', status: 'initializing' } });
    expect(h.manager.start('w1', 'a3').created).toBe(false);
    await h.client('a3');

    const report = await runRestore(prepared, { manager: h.manager, concurrency: 2, logger: h.logger, headStartMs: 0 });
    expect(report.restored.sort()).toEqual(['a1', 'a2', 'a3']);
    for (const id of ['a1', 'a2', 'a3']) expect(h.driver.clientsOf(id)).toHaveLength(1);
    expect(h.driver.clientsOf('a3')[0]!.destroyed).toBe(false);
    expect(h.driver.clients[0]!.spec.sessionId).toBe('a3'); // moved to the front by the API start
  });

  it('leaves alone a queued session stopped before its turn', async () => {
    h = await sessionHarness();
    await save(h.sessionsDir, 'a1');
    const prepared = await prepareRestore({ manager: h.manager, sessionsDir: h.sessionsDir, logger: h.logger });
    await h.manager.stop('a1');
    const report = await runRestore(prepared, { manager: h.manager, concurrency: 1, logger: h.logger, headStartMs: 0 });
    expect(h.driver.clients).toHaveLength(0);
    expect(report.pending).toEqual([{ session_id: 'a1', status: 'disconnected' }]);
    expect((await readManifest(path.join(h.sessionsDir, 'w1', 'a1'))).desired).toBe('stopped');
  });

  it('registers no more saved sessions than the cap, and says which stay on disk', async () => {
    h = await sessionHarness({ capacity: { maxSessions: 2, minFreeMemoryMb: 0 } });
    for (const id of ['a1', 'a2', 'a3']) await save(h.sessionsDir, id);
    const prepared = await prepareRestore({ manager: h.manager, sessionsDir: h.sessionsDir, logger: h.logger });
    expect(prepared.tickets.map((t) => t.sessionId)).toEqual(['a1', 'a2']);
    expect(prepared.report.overCapacity).toEqual(['a3']);
  });
});

describe('the launch gate', () => {
  it('starts one Chromium at a time whoever asks: API starts, the restore and reconnects alike', async () => {
    h = await sessionHarness({ launchConcurrency: 1 });
    await save(h.sessionsDir, 'r1');
    const seen = trackLaunches(h);
    const prepared = await prepareRestore({ manager: h.manager, sessionsDir: h.sessionsDir, logger: h.logger });
    const restoring = runRestore(prepared, { manager: h.manager, concurrency: 2, logger: h.logger, headStartMs: 0 });
    for (const id of ['s1', 's2', 's3']) h.manager.start('w1', id);
    await restoring;
    await waitFor(() => h.manager.list().every((s) => s.status === 'connected'), 'all connected');
    // All four lost at once: their relaunches take turns too.
    for (const id of ['r1', 's1', 's2', 's3']) h.driver.last(id).emit.disconnected('CONFLICT');
    await waitFor(() => h.driver.clients.length === 8 && h.manager.list().every((s) => s.status === 'connected'), 'all back');
    expect(seen.max).toBe(1);
  });

  it('lets two launch at once when told to', async () => {
    h = await sessionHarness({ launchConcurrency: 2 });
    const seen = trackLaunches(h, 100);
    for (const id of ['s1', 's2', 's3', 's4']) h.manager.start('w1', id);
    await waitFor(() => h.manager.list().every((s) => s.status === 'connected'), 'all connected');
    expect(seen.max).toBe(2);
  });
});

describe('capacity', () => {
  it('refuses a start over WHATSAPP_MAX_SESSIONS with capacity_exhausted and launches nothing; a stopped one frees a place', async () => {
    h = await sessionHarness({ capacity: { maxSessions: 2, minFreeMemoryMb: 0 } });
    h.manager.start('w1', 's1');
    h.manager.start('w1', 's2');
    let refused: unknown;
    try {
      h.manager.start('w1', 's3');
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(CapacityExhaustedError);
    expect(refused).toMatchObject({ code: 'capacity_exhausted', statusCode: 503, retryAfterSec: 60 });
    expect(h.manager.usage()).toEqual({ max: 2, used: 2 });
    expect(h.manager.start('w1', 's1').created).toBe(false); // one it holds is answered as ever
    await h.client('s2');
    expect(h.driver.clientsOf('s3')).toHaveLength(0);
    await h.manager.stop('s2');
    expect(h.manager.start('w1', 's3').created).toBe(true);
  });

  it('refuses a start while available memory is under the floor', async () => {
    let free = 200;
    h = await sessionHarness({ capacity: { minFreeMemoryMb: 300, availableMemoryMb: () => free } });
    expect(() => h.manager.start('w1', 's1')).toThrow('Only 200 MiB of memory available, under the 300 MiB floor (WHATSAPP_MIN_FREE_MEMORY_MB)');
    expect(h.manager.list()).toEqual([]);
    free = 301;
    expect(h.manager.start('w1', 's1').created).toBe(true);
    expect(h.manager.usage()).toEqual({ max: null, used: 1 });
  });
});

describe('QR timeout', () => {
  afterEach(() => jest.useRealTimers());

  it('stops a session whose QR nobody scans: browser closed, disconnected with QR_TIMEOUT, saved as stopped, never relaunched', async () => {
    h = await sessionHarness({ qrTimeoutMs: 200 });
    h.manager.start('w1', 's1');
    const client = await h.client('s1');
    const scheduled = jest.spyOn(ReconnectScheduler.prototype, 'schedule');
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    client.emit.qr('qr-1');
    jest.advanceTimersByTime(120);
    client.emit.qr('qr-2'); // a refreshed QR does not extend the wait
    jest.advanceTimersByTime(79);
    expect(h.manager.get('s1').status).toBe('qr_scanning');
    jest.advanceTimersByTime(1);
    jest.useRealTimers();
    expect(h.manager.get('s1')).toMatchObject({ status: 'disconnected', reason: REASONS.QR_TIMEOUT, qr: null });
    await waitFor(() => client.destroyed, 'the browser closed');
    await waitFor(async () => (await readManifest(path.join(h.sessionsDir, 'w1', 's1'))).desired === 'stopped', 'saved as stopped');
    // Never relaunched: every relaunch goes through the reconnect scheduler, which got nothing.
    expect(scheduled).not.toHaveBeenCalled();
    scheduled.mockRestore();
    expect(h.driver.clientsOf('s1')).toHaveLength(1);
    expect(h.events.filter((e) => e.event === 'session.status').map((e) => e.payload)).toContainEqual({
      status: 'disconnected',
      previous: 'qr_scanning',
      reason: REASONS.QR_TIMEOUT,
    });

    // A new start shows a new QR.
    expect(h.manager.start('w1', 's1').created).toBe(true);
    (await h.client('s1', 2)).emit.qr('qr-3');
    expect(h.manager.get('s1')).toMatchObject({ status: 'qr_scanning', qr: 'qr-3' });
  });

  it('does not stop a session scanned in time', async () => {
    h = await sessionHarness({ qrTimeoutMs: 100 });
    h.manager.start('w1', 's1');
    const client = await h.client('s1');
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    client.emit.qr('qr-1');
    client.emit.authenticated();
    client.emit.ready('628');
    jest.advanceTimersByTime(10_000);
    expect(h.manager.get('s1').status).toBe('connected');
    expect(client.destroyed).toBe(false);
  });
});

describe('ready timeout', () => {
  afterEach(() => jest.useRealTimers());

  /** A session launched and shown a QR; from here on, time is the test's (timers armed by the QR and later are fake). */
  async function pairing(options: Parameters<typeof sessionHarness>[0]) {
    h = await sessionHarness({ readyTimeoutMs: 10_000, qrTimeoutMs: 60_000, ...options });
    h.manager.start('w1', 's1');
    const client = await h.client('s1');
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    client.emit.qr('qr-1');
    return client;
  }

  it('closes a session authenticated but never ready and relaunches it as a failed launch (READY_TIMEOUT)', async () => {
    const client = await pairing({ maxReconnectAttempts: 2 });
    client.emit.authenticated();
    jest.advanceTimersByTime(9_999);
    expect(h.manager.get('s1')).toMatchObject({ status: 'authenticated', reconnect_attempts: 0 });
    expect(client.destroyed).toBe(false);
    jest.advanceTimersByTime(1);
    expect(h.manager.get('s1')).toMatchObject({ status: 'reconnecting', reason: REASONS.READY_TIMEOUT, reconnect_attempts: 1 });
    jest.advanceTimersByTime(10); // the reconnect delay (at most 2 ms here)
    jest.useRealTimers();
    await waitFor(() => client.destroyed, 'the stuck client closed');
    const second = await h.client('s1', 2);
    second.emit.authenticated();
    second.emit.ready('628');
    expect(h.manager.get('s1')).toMatchObject({ status: 'connected', reason: null, reconnect_attempts: 0 });
    expect(h.events.filter((e) => e.event === 'session.status').map((e) => e.payload)).toContainEqual({
      status: 'reconnecting',
      previous: 'authenticated',
      reason: REASONS.READY_TIMEOUT,
    });
  });

  it('gives the session up as failed when no reconnect attempt is left', async () => {
    const client = await pairing({ maxReconnectAttempts: 0 });
    client.emit.authenticated();
    jest.advanceTimersByTime(10_000);
    expect(h.manager.get('s1')).toMatchObject({ status: 'failed', reason: REASONS.READY_TIMEOUT });
    jest.useRealTimers();
    await waitFor(() => client.destroyed, 'the stuck client closed');
    expect(h.driver.clientsOf('s1')).toHaveLength(1);
  });

  it('leaves alone a session ready in time', async () => {
    const client = await pairing({});
    client.emit.authenticated();
    jest.advanceTimersByTime(9_000);
    client.emit.ready('628');
    jest.advanceTimersByTime(60_000);
    expect(h.manager.get('s1')).toMatchObject({ status: 'connected', reason: null });
    expect(client.destroyed).toBe(false);

  });

  it('hands a session shown a new QR after its authentication back to the QR timeout', async () => {
    const client = await pairing({});
    client.emit.authenticated();
    client.emit.qr('qr-2');
    jest.advanceTimersByTime(59_999);
    expect(h.manager.get('s1')).toMatchObject({ status: 'qr_scanning', qr: 'qr-2' });
    jest.advanceTimersByTime(1);
    expect(h.manager.get('s1')).toMatchObject({ status: 'disconnected', reason: REASONS.QR_TIMEOUT });
  });
});

describe('growth', () => {
  it('forgets a session stopped by itself once it has been so for a day; its folder stays and a start brings it back', async () => {
    let clock = new Date('2026-03-01T00:00:00Z');
    const later = (ms: number) => (clock = new Date(clock.getTime() + ms));
    h = await sessionHarness({ now: () => clock, autoReconnect: false });
    for (const id of ['s1', 's2']) {
      h.manager.start('w1', id);
      (await h.client(id)).emit.ready('628');
    }
    (await h.client('s1')).emit.disconnected('NAVIGATION');
    expect(h.manager.get('s1').status).toBe('disconnected');

    later(24 * 3600_000 - 1000);
    expect(h.manager.list().map((s) => s.session_id)).toEqual(['s1', 's2']);
    later(1001);
    expect(h.manager.list().map((s) => [s.session_id, s.status])).toEqual([['s2', 'connected']]); // connected all day: kept
    expect(() => h.manager.get('s1')).toThrow(SessionNotFoundError);
    expect((await readManifest(path.join(h.sessionsDir, 'w1', 's1'))).session_id).toBe('s1');

    expect(h.manager.start('w1', 's1').created).toBe(true);
    (await h.client('s1', 2)).emit.ready('628');
    expect(h.manager.get('s1').status).toBe('connected');
  });

  it('answers an id it does not hold from memory, never walking the sessions folder, and keeps that memory up to date', async () => {
    h = await sessionHarness();
    await writeManifest(path.join(h.sessionsDir, 'w2', 'a1'), { workspace_id: 'w2', session_id: 'a1', desired: 'stopped', phone_number: null, updated_at: '' });
    await runRestore(await prepareRestore({ manager: h.manager, sessionsDir: h.sessionsDir, logger: h.logger }), { manager: h.manager, concurrency: 1, logger: h.logger });
    const readdir = jest.spyOn(fsp, 'readdir');
    try {
      for (let i = 0; i < 3; i++) {
        await expect(h.manager.stop('ghost')).rejects.toThrow(SessionNotFoundError);
        await expect(h.manager.reconnect('ghost')).rejects.toThrow(SessionNotFoundError);
      }
      // Saved on disk, stopped: found in memory, in its own workspace.
      expect((await h.manager.reconnect('a1')).workspace_id).toBe('w2');
      await h.client('a1');
      // A session started since is known once stopped; one logged out is not.
      h.manager.start('w1', 'b1');
      await h.client('b1');
      await h.manager.stop('b1');
      expect((await h.manager.reconnect('b1')).workspace_id).toBe('w1');
      await h.manager.stop('a1', { logout: true });
      expect(existsSync(path.join(h.sessionsDir, 'w2', 'a1'))).toBe(false);
      await expect(h.manager.stop('a1')).rejects.toThrow(SessionNotFoundError);
      expect(readdir).not.toHaveBeenCalled();
    } finally {
      readdir.mockRestore();
    }
  });
});
