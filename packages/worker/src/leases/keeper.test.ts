import { LeaseKeeper, type AcquireResult, type LeaseBackend, type LeaseLostReason } from './keeper';
import type { Watchdog } from './watchdog';
import { recordingLogger } from '../../test/recording-logger';


interface PendingRenewal {
  leases: Array<{ sessionId: string; token: string }>;
  resolve(renewed: Set<string>): void;
  reject(error: Error): void;
}

/** The lease statements, answered by the test: every renewal waits until the test settles it. */
class FakeBackend implements LeaseBackend {
  private nextToken = 1;
  readonly renewals: PendingRenewal[] = [];
  readonly acquire = jest.fn(async (_: { sessionId: string; workspaceId: string }): Promise<AcquireResult> => ({
    acquired: true,
    token: String(this.nextToken++),
  }));
  readonly release = jest.fn(async (_sessionId: string, _token: string): Promise<boolean> => true);

  renew(leases: ReadonlyArray<{ sessionId: string; token: string }>): Promise<Set<string>> {
    return new Promise((resolve, reject) => this.renewals.push({ leases: [...leases], resolve, reject }));
  }

  /** The last renewal sent. */
  last(): PendingRenewal {
    const renewal = this.renewals.at(-1);
    if (!renewal) throw new Error('no renewal was sent');
    return renewal;
  }
}

/** A watchdog that records what it was told. */
function fakeWatchdog(): Watchdog & { sets: Array<[string, number, bigint]>; clears: string[] } {
  const sets: Array<[string, number, bigint]> = [];
  const clears: string[] = [];
  return {
    sets,
    clears,
    set: (sessionId, pgid, killAtNs) => void sets.push([sessionId, pgid, killAtNs]),
    clear: (sessionId) => void clears.push(sessionId),
    stop: async () => undefined,
  };
}

const T0 = 1_000_000; // the fake monotonic clock at the start of each test, in ms
const TTL = 30_000; // renewals every 10 s, stop at 22.5 s, kill at 26.25 s
const ns = (ms: number): bigint => BigInt(ms) * 1_000_000n;

function setup() {
  const backend = new FakeBackend();
  const watchdog = fakeWatchdog();
  const { logger, lines } = recordingLogger();
  const lost: Array<[string, LeaseLostReason]> = [];
  const keeper = new LeaseKeeper({
    backend,
    ttlMs: TTL,
    logger,
    onLost: (sessionId, why) => lost.push([sessionId, why]),
    clock: () => Date.now(),
    watchdog,
  });
  const messages = (level: string) => lines.filter((l) => l.level === level).map((l) => l.message);
  return { backend, watchdog, keeper, lost, messages };
}

/** Moves the fake clock (timers and Date.now) to `ms` after T0, running what falls due on the way. */
const advanceTo = async (ms: number) => jest.advanceTimersByTimeAsync(T0 + ms - Date.now());

describe('LeaseKeeper', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('refuses a lease life too short to close a browser before the lapse', () => {
    const options = { backend: new FakeBackend(), logger: recordingLogger().logger, onLost: () => undefined, watchdog: fakeWatchdog() };
    expect(() => new LeaseKeeper({ ...options, ttlMs: 5999 })).toThrow(/at least 6000 ms/);
  });

  it('arms the stop and the kill from when the acquiring statement was sent', async () => {
    const { backend, watchdog, keeper, lost } = setup();
    expect(await keeper.acquire('s1', 'w1')).toEqual({ acquired: true, token: '1' });
    expect(backend.acquire).toHaveBeenCalledWith({ sessionId: 's1', workspaceId: 'w1' });
    keeper.attachBrowser('s1', 4242);
    expect(watchdog.sets).toEqual([['s1', 4242, ns(T0 + 26_250)]]);
    expect(keeper.tokenOf('s1')).toBe('1');
    expect(keeper.held()).toEqual([{ sessionId: 's1', token: '1' }]);

    await advanceTo(22_499);
    expect(keeper.tokenOf('s1')).toBe('1');
    expect(lost).toEqual([]);
    await advanceTo(22_500);
    expect(lost).toEqual([['s1', 'deadline']]);
    expect(keeper.tokenOf('s1')).toBeNull();
    expect(keeper.held()).toEqual([]);
    // The kill stays armed until the worker says the browser has exited.
    expect(watchdog.clears).toEqual([]);
    keeper.detachBrowser('s1');
    expect(watchdog.clears).toEqual(['s1']);
  });

  it('counts the deadlines of a slow acquisition from when it was sent, not answered', async () => {
    const { backend, keeper, lost } = setup();
    backend.acquire.mockImplementationOnce(() => new Promise((resolve) => setTimeout(() => resolve({ acquired: true, token: '7' }), 5000)));
    const acquiring = keeper.acquire('s1', 'w1');
    await advanceTo(5000);
    await acquiring;
    await advanceTo(22_499);
    expect(lost).toEqual([]);
    await advanceTo(22_500);
    expect(lost).toEqual([['s1', 'deadline']]);
  });

  it('does not hold a lease another worker has', async () => {
    const { backend, keeper } = setup();
    const elsewhere = { acquired: false as const, holder: 'worker-b', expiresAt: new Date('2026-01-01T00:00:30Z') };
    backend.acquire.mockResolvedValueOnce(elsewhere);
    expect(await keeper.acquire('s1', 'w1')).toEqual(elsewhere);
    expect(keeper.tokenOf('s1')).toBeNull();
    expect(keeper.held()).toEqual([]);
  });

  it('extends the deadlines to count from when each confirmed renewal was sent', async () => {
    const { backend, watchdog, keeper, lost } = setup();
    keeper.start();
    await keeper.acquire('s1', 'w1');
    keeper.attachBrowser('s1', 4242);

    await advanceTo(10_000);
    expect(backend.renewals).toHaveLength(1);
    await advanceTo(10_300); // the answer takes 300 ms: the deadlines still count from 10_000
    backend.last().resolve(new Set(['s1']));
    await advanceTo(10_300);
    expect(watchdog.sets.at(-1)).toEqual(['s1', 4242, ns(T0 + 10_000 + 26_250)]);

    await advanceTo(22_500); // the first deadline has passed, the lease was extended
    expect(lost).toEqual([]);
    expect(keeper.tokenOf('s1')).toBe('1');
    // The renewal sent at 20_000 answers just before the stop the previous one set (10_000 +
    // 22_500; the tick at 30_000 was skipped while it was pending): it extends the lease from 20_000.
    await advanceTo(32_499);
    expect(backend.renewals).toHaveLength(2);
    backend.last().resolve(new Set(['s1']));
    await advanceTo(32_500);
    expect(lost).toEqual([]);
    expect(watchdog.sets.at(-1)).toEqual(['s1', 4242, ns(T0 + 20_000 + 26_250)]);
    await advanceTo(40_000);
    expect(backend.renewals).toHaveLength(3);
    await advanceTo(42_500); // that one never answers: the stop counts from 20_000
    expect(lost).toEqual([['s1', 'deadline']]);
  });

  it('stops at 3/4 of the life when a renewal never answers, with the kill armed at 7/8', async () => {
    const { backend, watchdog, keeper, lost, messages } = setup();
    keeper.start();
    await keeper.acquire('s1', 'w1');
    keeper.attachBrowser('s1', 4242);

    await advanceTo(22_499);
    expect(backend.renewals).toHaveLength(1); // sent at 10_000, never answered; the tick at 20_000 skipped
    expect(lost).toEqual([]);
    await advanceTo(22_500);
    expect(lost).toEqual([['s1', 'deadline']]);
    expect(watchdog.sets).toEqual([['s1', 4242, ns(T0 + 26_250)]]);
    expect(messages('error')).toEqual(['Lease renewal failed: the previous renewal has not answered after 10000 ms']);

    // An answer after the stop changes nothing: the lease was given up.
    backend.last().resolve(new Set(['s1']));
    await advanceTo(22_501);
    expect(keeper.tokenOf('s1')).toBeNull();
    expect(watchdog.sets).toHaveLength(1);
  });

  it('stops at 3/4 of the life when renewals fail, and logs the failure once per change', async () => {
    const { backend, keeper, lost, messages } = setup();
    keeper.start();
    await keeper.acquire('s1', 'w1');
    await advanceTo(10_000);
    backend.last().reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    await advanceTo(20_000);
    backend.last().reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    await advanceTo(22_500);
    expect(lost).toEqual([['s1', 'deadline']]);
    expect(messages('error')).toEqual(['Lease renewal failed: connect ECONNREFUSED 127.0.0.1:5432']);

    await keeper.acquire('s2', 'w1'); // at 22_500
    await advanceTo(30_000);
    backend.last().resolve(new Set(['s2']));
    await advanceTo(30_000);
    expect(messages('info')).toEqual(['Lease renewal recovered']);
    await advanceTo(40_000);
    backend.last().reject(new Error('terminating connection due to administrator command'));
    await advanceTo(40_000);
    expect(messages('error')).toEqual([
      'Lease renewal failed: connect ECONNREFUSED 127.0.0.1:5432',
      'Lease renewal failed: terminating connection due to administrator command',
    ]);
  });

  it('loses at once a lease the database did not renew, keeping the others', async () => {
    const { backend, keeper, lost } = setup();
    keeper.start();
    await keeper.acquire('s1', 'w1');
    await keeper.acquire('s2', 'w1');
    await advanceTo(10_000);
    backend.last().resolve(new Set(['s1']));
    await advanceTo(10_000);
    expect(lost).toEqual([['s2', 'not_renewed']]);
    expect(keeper.held()).toEqual([{ sessionId: 's1', token: '1' }]);
    expect(keeper.tokenOf('s2')).toBeNull();
    await advanceTo(20_000);
    expect(backend.last().leases).toEqual([{ sessionId: 's1', token: '1' }]);
  });

  it('renews every lease in one statement per interval', async () => {
    const { backend, keeper } = setup();
    keeper.start();
    const sessions = ['s1', 's2', 's3', 's4', 's5'];
    for (const sessionId of sessions) await keeper.acquire(sessionId, 'w1');
    for (const interval of [1, 2, 3]) {
      await advanceTo(interval * 10_000);
      expect(backend.renewals).toHaveLength(interval);
      expect(backend.last().leases.map((l) => l.sessionId)).toEqual(sessions);
      backend.last().resolve(new Set(sessions));
    }
  });

  it('sends nothing while no lease is held', async () => {
    const { backend, keeper } = setup();
    keeper.start();
    await advanceTo(30_000);
    expect(backend.renewals).toHaveLength(0);
  });

  it('never has two renewals in flight: a tick while one is pending is skipped', async () => {
    const { backend, keeper } = setup();
    keeper.start();
    await keeper.acquire('s1', 'w1');
    await advanceTo(10_000);
    await advanceTo(20_000);
    expect(backend.renewals).toHaveLength(1);
    backend.last().resolve(new Set(['s1']));
    await advanceTo(20_001);
    expect(backend.renewals).toHaveLength(1);
    await advanceTo(30_000);
    expect(backend.renewals).toHaveLength(2);
  });

  it('stops waiting for a renewal after a whole lease life, so leases acquired since are renewed', async () => {
    const { backend, keeper } = setup();
    keeper.start();
    await keeper.acquire('s1', 'w1');
    await advanceTo(25_000); // the renewal sent at 10_000 hangs; s1 was lost at 22_500
    await keeper.acquire('s2', 'w1');
    await advanceTo(30_000);
    expect(backend.renewals).toHaveLength(1);
    await advanceTo(40_000);
    expect(backend.renewals).toHaveLength(2);
    expect(backend.last().leases).toEqual([{ sessionId: 's2', token: '2' }]);
  });

  it('releases with the lease token and forgets the lease', async () => {
    const { backend, keeper, lost } = setup();
    keeper.start();
    await keeper.acquire('s1', 'w1');
    await keeper.release('s1');
    expect(backend.release).toHaveBeenCalledWith('s1', '1');
    expect(keeper.tokenOf('s1')).toBeNull();
    expect(keeper.held()).toEqual([]);
    await advanceTo(30_000);
    expect(lost).toEqual([]);
    expect(backend.renewals).toHaveLength(0);
    await keeper.release('s1'); // not held: nothing to do
    expect(backend.release).toHaveBeenCalledTimes(1);
  });

  it('never throws from a release that fails or hangs, and logs it', async () => {
    const { backend, keeper, messages } = setup();
    await keeper.acquire('s1', 'w1');
    backend.release.mockRejectedValueOnce(new Error('connection terminated'));
    await keeper.release('s1');

    await keeper.acquire('s2', 'w1'); // at T0: the lease could lapse at 30_000
    backend.release.mockImplementationOnce(() => new Promise(() => undefined));
    const releasing = keeper.release('s2');
    await advanceTo(30_000);
    await releasing;
    expect(messages('warn')).toEqual([
      'Lease release failed: connection terminated; the lease lapses by itself',
      'Lease release failed: no answer within 30000 ms; the lease lapses by itself',
    ]);
  });

  it('arms the kill of a browser attached before its lease was acquired, and stops when closed', async () => {
    const { backend, watchdog, keeper, lost } = setup();
    const stop = jest.spyOn(watchdog, 'stop');
    keeper.attachBrowser('s1', 4242);
    expect(watchdog.sets).toEqual([]);
    await keeper.acquire('s1', 'w1');
    expect(watchdog.sets).toEqual([['s1', 4242, ns(T0 + 26_250)]]);
    keeper.start();
    await keeper.close();
    expect(stop).toHaveBeenCalledTimes(1);
    await advanceTo(30_000);
    expect(backend.renewals).toHaveLength(0);
    expect(lost).toEqual([]);
    expect(backend.release).not.toHaveBeenCalled();
  });
});
