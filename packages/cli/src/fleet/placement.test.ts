import { DuplicateWorkerIdError, plan, type AccountInput, type Decision, type LeaseInput, type PlanInput, type WorkerInput } from './placement';

const NOW = new Date('2025-11-20T02:15:00.000Z');
const LATER = new Date('2025-11-20T02:15:30.000Z');
const EARLIER = new Date('2025-11-20T02:14:30.000Z');

/** An account meant to run, recorded on `workerId`. */
function account(sessionId: string, workerId: string | null, overrides: Partial<AccountInput> = {}): AccountInput {
  return { sessionId, workspaceId: '1', shouldRun: true, workerId, status: 'connected', ...overrides };
}

/** A worker that answered, with no cap unless `max` is given, running `running` (all `connected`). */
function up(workerId: string, running: string[] = [], overrides: Partial<WorkerInput> & { max?: number | null } = {}): WorkerInput {
  const { max = null, ...rest } = overrides;
  return {
    workerId,
    url: `http://${workerId}:3001`,
    reachable: true,
    unreachableRuns: 0,
    draining: false,
    capacity: { max, used: running.length },
    sessions: running.map((sessionId) => ({ sessionId, status: 'connected' })),
    ...rest,
  };
}

/** A worker that has not answered for `runs` runs, this one included. */
function down(workerId: string, runs: number, overrides: Partial<WorkerInput> = {}): WorkerInput {
  return { workerId, url: `http://${workerId}:3001`, reachable: false, unreachableRuns: runs, draining: false, capacity: null, sessions: [], ...overrides };
}

function lease(sessionId: string, workerId: string, expiresAt: Date): LeaseInput {
  return { sessionId, workerId, expiresAt };
}

function run(input: Omit<PlanInput, 'now' | 'leases'> & { leases?: LeaseInput[] }) {
  return plan({ leases: [], now: NOW, ...input });
}

function placedOn(decisions: Decision[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const d of decisions) if (d.action === 'start' || d.action === 'move') counts[d.workerId] = (counts[d.workerId] ?? 0) + 1;
  return counts;
}

describe('plan: placement', () => {
  it('spreads nine new sessions over three empty healthy workers 3/3/3', () => {
    const accounts = ['s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9'].map((id) => account(id, null));
    const result = run({ accounts, workers: [up('w1', [], { max: 10 }), up('w2', [], { max: 10 }), up('w3', [], { max: 10 })] });
    expect(placedOn(result.decisions)).toEqual({ w1: 3, w2: 3, w3: 3 });
    expect(result.decisions.every((d) => d.action === 'start' && d.reason === 'new')).toBe(true);
    expect(result.workers.map((w) => [w.workerId, w.assigned, w.free])).toEqual([
      ['w1', 3, 7],
      ['w2', 3, 7],
      ['w3', 3, 7],
    ]);
  });

  it('spreads over workers without a cap by their load', () => {
    const accounts = ['s1', 's2', 's3', 's4', 's5', 's6'].map((id) => account(id, null));
    const result = run({ accounts, workers: [up('w1'), up('w2'), up('w3')] });
    expect(placedOn(result.decisions)).toEqual({ w1: 2, w2: 2, w3: 2 });
    expect(result.workers.map((w) => w.free)).toEqual([null, null, null]);
  });

  it('puts a new session on the worker with the most free capacity', () => {
    const result = run({
      accounts: [account('a', 'w1'), account('b', 'w1'), account('c', 'w2'), account('new', null)],
      workers: [up('w1', ['a', 'b'], { max: 5 }), up('w2', ['c'], { max: 3 }), up('w3', ['x1', 'x2', 'x3'], { max: 10 })],
    });
    // Free: w1 3, w2 2, w3 7.
    expect(result.decisions).toContainEqual({ sessionId: 'new', action: 'start', workerId: 'w3', reason: 'new' });
  });

  it('breaks a tie of free capacity by load, then by worker id', () => {
    const byLoad = run({ accounts: [account('new', null)], workers: [up('w1', ['a'], { max: 4 }), up('w2', [], { max: 3 })] });
    expect(byLoad.decisions).toEqual([{ sessionId: 'new', action: 'start', workerId: 'w2', reason: 'new' }]);
    const byId = run({ accounts: [account('new', null)], workers: [up('wb', [], { max: 3 }), up('wa', [], { max: 3 })] });
    expect(byId.decisions).toEqual([{ sessionId: 'new', action: 'start', workerId: 'wa', reason: 'new' }]);
  });

  it('prefers a worker without a cap to one with a cap', () => {
    const result = run({ accounts: [account('new', null)], workers: [up('w1', [], { max: 100 }), up('w2', ['a', 'b'])] });
    expect(result.decisions).toEqual([{ sessionId: 'new', action: 'start', workerId: 'w2', reason: 'new' }]);
  });

  it('skips a full worker, and one the plan itself fills', () => {
    const result = run({
      accounts: [account('a', 'w1'), account('n1', null), account('n2', null), account('n3', null)],
      workers: [up('w1', ['a'], { max: 1 }), up('w2', [], { max: 2 })],
    });
    expect(result.workers.map((w) => [w.workerId, w.verdict])).toEqual([
      ['w1', 'full'],
      ['w2', 'healthy'],
    ]);
    expect(result.decisions).toEqual([
      { sessionId: 'a', action: 'keep', workerId: 'w1', reason: 'running' },
      { sessionId: 'n1', action: 'start', workerId: 'w2', reason: 'new' },
      { sessionId: 'n2', action: 'start', workerId: 'w2', reason: 'new' },
      { sessionId: 'n3', action: 'wait', workerId: null, reason: 'no_capacity' },
    ]);
    expect(result.workers[1]).toMatchObject({ free: 0, assigned: 2 });
  });

  it('never places a session on a draining worker, however empty', () => {
    const result = run({ accounts: [account('new', null)], workers: [up('w1', [], { draining: true }), up('w2', ['a', 'b', 'c'], { max: 4 })] });
    expect(result.workers[0].verdict).toBe('draining');
    expect(result.decisions).toEqual([{ sessionId: 'new', action: 'start', workerId: 'w2', reason: 'new' }]);
  });
});

describe('plan: the recorded worker', () => {
  it('keeps a running session on its healthy recorded worker even when another has more room', () => {
    const result = run({ accounts: [account('a', 'w1')], workers: [up('w1', ['a', 'x'], { max: 3 }), up('w2', [], { max: 100 })] });
    expect(result.decisions).toEqual([{ sessionId: 'a', action: 'keep', workerId: 'w1', reason: 'running' }]);
    expect(result.workers.map((w) => w.assigned)).toEqual([0, 0]);
  });

  it('starts a session that runs nowhere on its healthy recorded worker', () => {
    const result = run({ accounts: [account('a', 'w1', { status: 'disconnected' })], workers: [up('w1', ['x'], { max: 3 }), up('w2', [], { max: 100 })] });
    expect(result.decisions).toEqual([{ sessionId: 'a', action: 'start', workerId: 'w1', reason: 'recorded_worker' }]);
  });

  it('counts a session listed in a stopped status as not running', () => {
    const w1 = up('w1', [], { max: 3 });
    w1.sessions = [{ sessionId: 'a', status: 'failed' }];
    const result = run({ accounts: [account('a', 'w1')], workers: [w1] });
    expect(result.decisions).toEqual([{ sessionId: 'a', action: 'start', workerId: 'w1', reason: 'recorded_worker' }]);
  });

  it('gives the recorded worker its sessions before placing new ones, whatever the id order', () => {
    // `a-new` sorts first; were it placed first, it would take w1's last slot from `z-old`.
    const result = run({ accounts: [account('a-new', null), account('z-old', 'w1')], workers: [up('w1', ['x'], { max: 2 }), up('w2', ['y'], { max: 2 })] });
    expect(result.decisions).toEqual([
      { sessionId: 'a-new', action: 'start', workerId: 'w2', reason: 'new' },
      { sessionId: 'z-old', action: 'start', workerId: 'w1', reason: 'recorded_worker' },
    ]);
  });

  it.each([
    ['full', up('w1', ['x'], { max: 1 }), 'recorded_worker_full'],
    ['draining', up('w1', [], { draining: true }), 'recorded_worker_draining'],
  ] as const)('starts a session whose recorded worker is %s elsewhere', (_, w1, reason) => {
    const result = run({ accounts: [account('a', 'w1')], workers: [w1, up('w2')] });
    expect(result.decisions).toEqual([{ sessionId: 'a', action: 'start', workerId: 'w2', reason }]);
  });

  it('starts a session whose recorded worker left the fleet elsewhere', () => {
    const result = run({ accounts: [account('a', 'gone')], workers: [up('w2')] });
    expect(result.decisions).toEqual([{ sessionId: 'a', action: 'start', workerId: 'w2', reason: 'recorded_worker_unknown' }]);
  });

  it('keeps a session found running on another worker there, to be recorded, and never starts it twice', () => {
    const result = run({ accounts: [account('a', 'w1')], workers: [up('w1', [], { max: 5 }), up('w2', ['a'], { max: 5 })] });
    expect(result.decisions).toEqual([{ sessionId: 'a', action: 'keep', workerId: 'w2', reason: 'found_elsewhere' }]);
    expect(result.workers.map((w) => w.assigned)).toEqual([0, 0]);
  });

  it('neither starts nor stops a session its account does not want running', () => {
    const result = run({
      accounts: [account('off', 'w1', { shouldRun: false, status: 'disconnected' }), account('on-anyway', 'w1', { shouldRun: false })],
      workers: [up('w1', ['on-anyway'])],
    });
    expect(result.decisions).toEqual([{ sessionId: 'on-anyway', action: 'keep', workerId: 'w1', reason: 'running' }]);
  });
});

describe('plan: duplicates', () => {
  it('keeps the lease holder of a session running on two workers and stops the other copy', () => {
    const result = run({
      accounts: [account('a', 'w1')],
      workers: [up('w1', ['a']), up('w2', ['a'])],
      leases: [lease('a', 'w2', LATER)],
    });
    expect(result.decisions).toEqual([
      { sessionId: 'a', action: 'keep', workerId: 'w2', reason: 'duplicate' },
      { sessionId: 'a', action: 'stop', workerId: 'w1', reason: 'duplicate' },
    ]);
  });

  it('keeps the recorded worker when no live lease names one, even for a session not meant to run', () => {
    const result = run({
      accounts: [account('a', 'w2', { shouldRun: false })],
      workers: [up('w1', ['a']), up('w2', ['a']), up('w3', ['a'])],
      leases: [lease('a', 'w3', EARLIER)],
    });
    expect(result.decisions).toEqual([
      { sessionId: 'a', action: 'keep', workerId: 'w2', reason: 'duplicate' },
      { sessionId: 'a', action: 'stop', workerId: 'w1', reason: 'duplicate' },
      { sessionId: 'a', action: 'stop', workerId: 'w3', reason: 'duplicate' },
    ]);
  });
});

describe('plan: failover', () => {
  it('does not move the sessions of a worker unreachable for one run (a flapping worker)', () => {
    const result = run({
      accounts: [account('a', 'w1'), account('b', 'w1')],
      workers: [down('w1', 1), up('w2')],
      leases: [lease('a', 'w1', LATER)],
    });
    expect(result.workers[0].verdict).toBe('unreachable');
    expect(result.decisions).toEqual([
      { sessionId: 'a', action: 'wait', workerId: 'w1', reason: 'worker_unreachable' },
      { sessionId: 'b', action: 'wait', workerId: 'w1', reason: 'worker_unreachable' },
    ]);
    expect(result.allDown).toBe(false);
  });

  it('declares a worker dead after two runs without an answer and moves its sessions to the least loaded', () => {
    const result = run({
      accounts: [account('a', 'w1'), account('b', 'w1'), account('c', 'w1')],
      workers: [down('w1', 2), up('w2', ['x'], { max: 10 }), up('w3', [], { max: 10 })],
    });
    expect(result.workers[0]).toMatchObject({ verdict: 'dead', free: null, capacity: null });
    expect(result.decisions).toEqual([
      { sessionId: 'a', action: 'move', from: 'w1', workerId: 'w3', reason: 'worker_dead' },
      { sessionId: 'b', action: 'move', from: 'w1', workerId: 'w2', reason: 'worker_dead' },
      { sessionId: 'c', action: 'move', from: 'w1', workerId: 'w3', reason: 'worker_dead' },
    ]);
  });

  it('honours deadAfterRuns', () => {
    const input = { accounts: [account('a', 'w1')], workers: [down('w1', 2), up('w2')] };
    expect(run({ ...input, deadAfterRuns: 3 }).workers[0].verdict).toBe('unreachable');
    expect(run({ ...input, deadAfterRuns: 3 }).decisions[0]).toMatchObject({ action: 'wait', reason: 'worker_unreachable' });
  });

  it('declares a silent worker dead after one run when every lease it holds has lapsed', () => {
    const result = run({
      accounts: [account('a', 'w1'), account('b', 'w1')],
      workers: [down('w1', 1), up('w2')],
      leases: [lease('a', 'w1', EARLIER), lease('b', 'w1', NOW)],
    });
    expect(result.workers[0].verdict).toBe('dead');
    expect(result.decisions).toEqual([
      { sessionId: 'a', action: 'move', from: 'w1', workerId: 'w2', reason: 'worker_dead' },
      { sessionId: 'b', action: 'move', from: 'w1', workerId: 'w2', reason: 'worker_dead' },
    ]);
  });

  it('keeps a silent worker unreachable while one of its leases is live', () => {
    const result = run({
      accounts: [account('a', 'w1'), account('b', 'w1')],
      workers: [down('w1', 1), up('w2')],
      leases: [lease('a', 'w1', EARLIER), lease('b', 'w1', LATER)],
    });
    expect(result.workers[0].verdict).toBe('unreachable');
    expect(result.decisions.map((d) => d.action)).toEqual(['wait', 'wait']);
  });

  it('never declares a worker that answers dead, whatever its leases say', () => {
    const result = run({ accounts: [account('a', 'w1')], workers: [up('w1', ['a']), up('w2')], leases: [lease('a', 'w1', EARLIER)] });
    expect(result.workers[0].verdict).toBe('healthy');
    expect(result.decisions).toEqual([{ sessionId: 'a', action: 'keep', workerId: 'w1', reason: 'running' }]);
  });

  it("waits for a dead worker's lease to lapse, then moves the session", () => {
    const input = { accounts: [account('a', 'w1'), account('b', 'w1')], workers: [down('w1', 2), up('w2')] };
    const early = run({ ...input, leases: [lease('a', 'w1', LATER)] });
    expect(early.decisions).toEqual([
      { sessionId: 'a', action: 'wait', workerId: 'w1', reason: 'lease_held', until: '2025-11-20T02:15:30.000Z' },
      { sessionId: 'b', action: 'move', from: 'w1', workerId: 'w2', reason: 'worker_dead' },
    ]);
    const late = plan({ ...input, leases: [lease('a', 'w1', LATER)], now: LATER });
    expect(late.decisions[0]).toEqual({ sessionId: 'a', action: 'move', from: 'w1', workerId: 'w2', reason: 'worker_dead' });
  });

  it('starts a session on the healthy worker that holds its live lease', () => {
    const result = run({ accounts: [account('a', 'w1')], workers: [up('w1', [], { max: 9 }), up('w2', [], { max: 1 })], leases: [lease('a', 'w2', LATER)] });
    expect(result.decisions).toEqual([{ sessionId: 'a', action: 'start', workerId: 'w2', reason: 'lease_holder' }]);
  });

  it('keeps a session that runs on a worker that answers, whoever is silent', () => {
    const result = run({ accounts: [account('a', 'w1')], workers: [down('w1', 5), up('w2', ['a'])] });
    expect(result.decisions).toEqual([{ sessionId: 'a', action: 'keep', workerId: 'w2', reason: 'found_elsewhere' }]);
  });

  it('waits when a dead worker has sessions and no healthy worker has room', () => {
    const result = run({ accounts: [account('a', 'w1')], workers: [down('w1', 2), up('w2', ['x'], { max: 1 })] });
    expect(result.decisions).toEqual([{ sessionId: 'a', action: 'wait', workerId: 'w1', reason: 'no_capacity' }]);
  });

  it('with every worker down, moves nothing and says allDown', () => {
    const result = run({
      accounts: [account('a', 'w1'), account('b', 'w2'), account('new', null), account('off', 'w1', { shouldRun: false })],
      workers: [down('w1', 3), down('w2', 1)],
    });
    expect(result.allDown).toBe(true);
    expect(result.workers.map((w) => w.verdict)).toEqual(['dead', 'unreachable']);
    expect(result.decisions).toEqual([
      { sessionId: 'a', action: 'wait', workerId: 'w1', reason: 'all_down' },
      { sessionId: 'b', action: 'wait', workerId: 'w2', reason: 'all_down' },
      { sessionId: 'new', action: 'wait', workerId: null, reason: 'all_down' },
    ]);
  });
});

describe('plan: draining', () => {
  it('marks every session of a draining worker as a move candidate, to the least loaded', () => {
    const result = run({
      accounts: [account('a', 'w1'), account('b', 'w1'), account('off', 'w1', { shouldRun: false })],
      workers: [up('w1', ['a', 'b', 'off'], { draining: true }), up('w2', ['x'], { max: 5 }), up('w3', [], { max: 5 })],
    });
    expect(result.decisions).toEqual([
      { sessionId: 'a', action: 'move', from: 'w1', workerId: 'w3', reason: 'draining' },
      { sessionId: 'b', action: 'move', from: 'w1', workerId: 'w2', reason: 'draining' },
      { sessionId: 'off', action: 'move', from: 'w1', workerId: 'w3', reason: 'draining' },
    ]);
  });

  it('leaves a session on the draining worker when nothing has room', () => {
    const result = run({ accounts: [account('a', 'w1')], workers: [up('w1', ['a'], { draining: true }), up('w2', ['x'], { max: 1 })] });
    expect(result.decisions).toEqual([{ sessionId: 'a', action: 'wait', workerId: 'w1', reason: 'no_capacity' }]);
  });

  it('does not move the sessions of a draining worker that stopped answering for one run', () => {
    const result = run({ accounts: [account('a', 'w1')], workers: [down('w1', 1, { draining: true }), up('w2')] });
    expect(result.workers[0]).toMatchObject({ verdict: 'unreachable', draining: true });
    expect(result.decisions).toEqual([{ sessionId: 'a', action: 'wait', workerId: 'w1', reason: 'worker_unreachable' }]);
  });
});

describe('plan: determinism', () => {
  const input: PlanInput = {
    accounts: [account('s3', null), account('s1', 'w1'), account('s2', 'w9'), account('s4', null), account('s5', 'w2')],
    workers: [up('w2', ['s5'], { max: 4 }), down('w9', 2), up('w1', [], { max: 4 })],
    leases: [lease('s5', 'w2', LATER), lease('s2', 'w9', EARLIER)],
    now: NOW,
  };

  it('gives the same plan for the same input, in whatever order its arrays come', () => {
    const first = plan(input);
    expect(plan(input)).toEqual(first);
    const shuffled = { ...input, accounts: [...input.accounts].reverse(), workers: [...input.workers].reverse(), leases: [...input.leases].reverse() };
    expect(plan(shuffled)).toEqual(first);
    expect(first.decisions.map((d) => d.sessionId)).toEqual(['s1', 's2', 's3', 's4', 's5']);
    expect(first.workers.map((w) => w.workerId)).toEqual(['w1', 'w2', 'w9']);
  });

  it('does not change its input', () => {
    const copy = structuredClone(input);
    plan(input);
    expect(input).toEqual(copy);
  });

  it('refuses two workers with the same id, saying what to do', () => {
    expect(() => run({ accounts: [], workers: [up('w1'), { ...up('w1'), url: 'http://other:3001' }] })).toThrow(DuplicateWorkerIdError);
    expect(() => run({ accounts: [], workers: [up('w1'), { ...up('w1'), url: 'http://other:3001' }] })).toThrow(/give each its own WHATSAPP_WORKER_ID/);
  });
});
