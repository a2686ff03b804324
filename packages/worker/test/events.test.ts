import path from 'node:path';
import { REASONS } from '@wa-session-sync/shared';
import { PROBE_FAILING_ALERT_AFTER, type EventOf, type WorkerEvent } from '../src/events/bus';
import { SessionLifecycle } from '../src/sessions/lifecycle';
import type { FakeClient, FakeProfileHost } from './fake-driver';
import { waitFor } from './helpers';
import { sessionHarness, type SessionHarness } from './session-harness';

// The worker's event bus as the sessions publish on it (launch, loss, probe, alert), and the one
// place a launch is let go of, over the fake driver.

jest.setTimeout(20_000);

let h: SessionHarness;
afterEach(async () => {
  jest.useRealTimers();
  jest.restoreAllMocks();
  await h?.close();
});

function ofType<T extends WorkerEvent['type']>(type: T): Array<EventOf<T>> {
  return h.busEvents.filter((e): e is EventOf<T> => e.type === type);
}

/** A session started and connected on its first client. */
async function connected(sessionId = 's1'): Promise<FakeClient> {
  h.manager.start('w1', sessionId);
  const client = await h.client(sessionId);
  await waitFor(() => client.initializeCalls > 0, 'the client initialized');
  client.emit.ready('628');
  expect(h.manager.get(sessionId).status).toBe('connected');
  return client;
}

describe('alerts (session.alert)', () => {
  it('raises qr_timeout when nobody scans the QR in time, once, and delivers it as the contract webhook', async () => {
    h = await sessionHarness({ qrTimeoutMs: 60_000 });
    h.manager.start('w1', 's1');
    const client = await h.client('s1');
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    client.emit.qr('qr-1');
    jest.advanceTimersByTime(59_999);
    expect(ofType('alert')).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(ofType('alert')).toEqual([expect.objectContaining({ kind: 'qr_timeout', reason: REASONS.QR_TIMEOUT, attempts: 0, session_id: 's1', workspace_id: 'w1' })]);
    jest.advanceTimersByTime(10 * 60_000);
    expect(ofType('alert')).toHaveLength(1);
    expect(h.events.filter((e) => e.event === 'session.alert')).toEqual([
      expect.objectContaining({ session_id: 's1', workspace_id: 'w1', payload: { kind: 'qr_timeout', reason: REASONS.QR_TIMEOUT, attempts: 0 } }),
    ]);
  });

  it('raises reconnect_exhausted when the attempts run out, not before', async () => {
    h = await sessionHarness({ maxReconnectAttempts: 2 });
    const first = await connected();
    first.emit.disconnected('NAVIGATION');
    const second = await h.client('s1', 2);
    await waitFor(() => second.initializeCalls > 0, 'the first retry launched');
    second.emit.browserGone(REASONS.BROWSER_CLOSED);
    const third = await h.client('s1', 3);
    await waitFor(() => third.initializeCalls > 0, 'the second retry launched');
    expect(ofType('alert')).toEqual([]);
    third.emit.browserGone(REASONS.PAGE_CRASHED);
    expect(h.manager.get('s1').status).toBe('failed');
    expect(ofType('alert')).toEqual([expect.objectContaining({ kind: 'reconnect_exhausted', reason: REASONS.PAGE_CRASHED, attempts: 2 })]);
    expect(h.events.filter((e) => e.event === 'session.alert').map((e) => e.payload)).toEqual([
      { kind: 'reconnect_exhausted', reason: REASONS.PAGE_CRASHED, attempts: 2 },
    ]);
    // Each loss is on the bus with the attempt it scheduled (the last one scheduled none).
    expect(ofType('loss').map((e) => [e.reason, e.attempts, e.retry])).toEqual([
      ['NAVIGATION', 1, true],
      [REASONS.BROWSER_CLOSED, 2, true],
      [REASONS.PAGE_CRASHED, 2, false],
    ]);
  });

  it('raises logged_out when the phone unlinks the device, and no alert for a loss the worker heals', async () => {
    h = await sessionHarness();
    const first = await connected();
    first.emit.disconnected('NAVIGATION');
    const second = await h.client('s1', 2);
    await waitFor(() => second.initializeCalls > 0, 'the retry launched');
    second.emit.ready('628');
    expect(ofType('alert')).toEqual([]);
    second.emit.disconnected(REASONS.LOGOUT);
    expect(h.manager.get('s1').status).toBe('qr_scanning');
    expect(ofType('alert')).toEqual([expect.objectContaining({ kind: 'logged_out', reason: REASONS.LOGOUT, attempts: 0 })]);
  });

  it(`raises probe_failing after ${PROBE_FAILING_ALERT_AFTER} failed probes in a row across relaunches, once; a good probe starts the count again`, async () => {
    h = await sessionHarness({ maxReconnectAttempts: 10 });
    let client = await connected();
    let n = 1;
    /** The current client stops answering CONNECTED, a probe finds it, the relaunch gets ready. */
    const failOnce = async () => {
      client.state = 'UNPAIRED';
      await h.manager.probeAll();
      client = await h.client('s1', ++n);
      await waitFor(() => client.initializeCalls > 0, `relaunch ${n}`);
      client.emit.ready('628');
    };
    await failOnce();
    await failOnce();
    await h.manager.probeAll(); // answers: the count starts again
    expect(ofType('probe').map((e) => e.ok)).toEqual([false, false, true]);
    for (let i = 0; i < PROBE_FAILING_ALERT_AFTER - 1; i++) await failOnce();
    expect(ofType('alert')).toEqual([]);
    await failOnce();
    expect(ofType('alert')).toEqual([expect.objectContaining({ kind: 'probe_failing', reason: expect.any(String), attempts: 0 })]);
    await failOnce();
    expect(ofType('alert')).toHaveLength(1);
  });
});

describe('launch events', () => {
  it('says how each launch began, how it ended and how long it took', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    h = await sessionHarness({ now: () => new Date(clock), maxReconnectAttempts: 1 });
    h.manager.start('w1', 's1');
    const first = await h.client('s1');
    await waitFor(() => first.initializeCalls > 0, 'launched');
    clock += 1500;
    first.emit.qr('qr-1');
    first.emit.qr('qr-2'); // the same launch: announced once
    first.emit.authenticated();
    first.emit.ready('628');
    first.emit.disconnected('NAVIGATION');
    const second = await h.client('s1', 2);
    await waitFor(() => second.initializeCalls > 0, 'relaunched');
    clock += 700;
    second.emit.ready('628');
    await h.manager.reconnect('s1');
    const third = await h.client('s1', 3);
    await waitFor(() => third.initializeCalls > 0, 'reconnected by the route');
    clock += 200;
    third.emit.browserGone(REASONS.BROWSER_CLOSED);
    expect(ofType('launch').map(({ kind, outcome, duration_ms }) => ({ kind, outcome, duration_ms }))).toEqual([
      { kind: 'start', outcome: 'qr', duration_ms: 1500 },
      { kind: 'reconnect', outcome: 'ready', duration_ms: 700 },
      { kind: 'reconnect', outcome: 'failed', duration_ms: 200 },
    ]);
  });

  it('keeps one session object across launches and a stop, with its counters; a logout forgets it', async () => {
    h = await sessionHarness();
    const first = await connected();
    first.emit.message({ id: 'm1', from: 'a', to: 'b', body: 'hi', type: 'chat', timestamp: 1 });
    await h.manager.reconnect('s1');
    const second = await h.client('s1', 2);
    await waitFor(() => second.initializeCalls > 0, 'relaunched');
    second.emit.ready('628');
    second.emit.message({ id: 'm2', from: 'a', to: 'b', body: 'again', type: 'chat', timestamp: 2 });
    const messages = ofType('message');
    expect(messages.map((e) => e.message.id)).toEqual(['m1', 'm2']);
    const before = h.manager.session('s1');
    await h.manager.stop('s1');
    expect(h.manager.session('s1')).toBe(before);
    expect(before!.status).toBeNull();
    h.manager.start('w1', 's1');
    const third = await h.client('s1', 3);
    await waitFor(() => third.initializeCalls > 0, 'started again');
    const session = h.manager.session('s1')!;
    expect(session.counters).toMatchObject({ messages: 2, lastMessageAt: messages[1]!.at, launches: 3 });
    expect(session.status).toBe('initializing');
    third.emit.ready('628');
    expect(session.status).toBe('connected');
    await h.manager.stop('s1', { logout: true });
    expect(h.manager.session('s1')).toBeUndefined();
  });
});

describe("a launch's release, one place for every trigger", () => {
  /**
   * The steps of a release, whoever triggered it: the lifecycle's `release` ran for the client's
   * record, the client was destroyed and its profile swept, and a late event from it changes nothing.
   */
  async function expectReleased(client: FakeClient, release: jest.SpyInstance) {
    expect(release).toHaveBeenCalledTimes(1);
    expect(release.mock.calls[0]![0]).toMatchObject({ sessionId: 's1' });
    await waitFor(() => client.destroyed, 'the client destroyed');
    const folder = path.join(h.sessionsDir, 'w1', 's1');
    await waitFor(() => (h.driver.profiles as FakeProfileHost).killed.includes(folder), 'its profile swept');
    const before = h.busEvents.length;
    client.emit.qr('late');
    client.emit.ready('999');
    client.emit.message({ id: 'late', from: 'a', to: 'b', body: '', type: 'chat', timestamp: 0 });
    expect(h.busEvents.slice(before)).toEqual([]);
  }

  const triggers: Array<[string, (client: FakeClient) => Promise<unknown> | void]> = [
    ['a stop (DELETE)', () => h.manager.stop('s1')],
    ['a logout (DELETE ?logout)', () => h.manager.stop('s1', { logout: true })],
    ['a replace (reconnect route)', () => h.manager.reconnect('s1')],
    ['a force cleanup', () => h.manager.forceCleanupSession('s1')],
    ['the shutdown', () => h.manager.shutdown(1000)],
    ['a loss (disconnected)', (client) => client.emit.disconnected('NAVIGATION')],
    [
      'a failed probe',
      async (client) => {
        client.wedged = true;
        await h.manager.probeAll();
      },
    ],
  ];

  it.each(triggers)('%s', async (_trigger, trigger) => {
    h = await sessionHarness();
    const client = await connected();
    const release = jest.spyOn(SessionLifecycle.prototype, 'release');
    await trigger(client);
    await expectReleased(client, release);
  });

  it('a QR timeout', async () => {
    h = await sessionHarness({ qrTimeoutMs: 50 });
    h.manager.start('w1', 's1');
    const client = await h.client('s1');
    await waitFor(() => client.initializeCalls > 0, 'launched');
    const release = jest.spyOn(SessionLifecycle.prototype, 'release');
    client.emit.qr('qr-1');
    await waitFor(() => h.manager.get('s1').reason === REASONS.QR_TIMEOUT, 'the QR timed out');
    await expectReleased(client, release);
  });
});
