import { plan, type Plan } from './placement';
import { describeDecision, fleetJson, renderFleetReport } from './report';

/** A fleet with one worker of each verdict and one decision of each kind. */
const fleet: Plan = {
  allDown: false,
  workers: [
    { workerId: 'w1', url: 'http://w1:3001', verdict: 'healthy', draining: false, capacity: { max: 10, used: 3 }, sessions: 3, free: 5, assigned: 2 },
    { workerId: 'w2', url: 'http://w2:3001', verdict: 'draining', draining: true, capacity: { max: null, used: 1 }, sessions: 1, free: null, assigned: 0 },
    { workerId: 'w3', url: 'http://w3:3001', verdict: 'dead', draining: false, capacity: null, sessions: 0, free: null, assigned: 0 },
    { workerId: 'w4', url: 'http://w4:3001', verdict: 'unreachable', draining: true, capacity: null, sessions: 0, free: null, assigned: 0 },
  ],
  decisions: [
    { sessionId: 'a', action: 'keep', workerId: 'w1', reason: 'running' },
    { sessionId: 'b', action: 'move', from: 'w2', workerId: 'w1', reason: 'draining' },
    { sessionId: 'c', action: 'move', from: 'w3', workerId: 'w1', reason: 'worker_dead' },
    { sessionId: 'd', action: 'wait', workerId: 'w3', reason: 'lease_held', until: '2025-11-20T02:15:30.000Z' },
    { sessionId: 'e', action: 'wait', workerId: 'w4', reason: 'worker_unreachable' },
    { sessionId: 'f', action: 'keep', workerId: 'w1', reason: 'duplicate' },
    { sessionId: 'f', action: 'stop', workerId: 'w2', reason: 'duplicate' },
    { sessionId: 'g', action: 'start', workerId: 'w1', reason: 'new' },
    { sessionId: 'h', action: 'keep', workerId: 'w1', reason: 'found_elsewhere' },
  ],
};

describe('renderFleetReport', () => {
  it('prints the worker table and every decision but plain keeps, with its reason', () => {
    expect(renderFleetReport(fleet, { color: false })).toEqual([
      '🛰️  Fleet: 4 workers, 1 healthy',
      '   WORKER  VERDICT                 CAPACITY  SESSIONS  FREE  PLACED  URL',
      '   w1      healthy                 3/10      3         5     +2      http://w1:3001',
      '   w2      draining                1/∞       1         ∞     0       http://w2:3001',
      '   w3      dead                    -         -         -     0       http://w3:3001',
      '   w4      unreachable (draining)  -         -         -     0       http://w4:3001',
      '',
      '🚨 Sessions running on more than one worker (a double login):',
      '   f: keep on w1 (this copy stays: it holds the lease, or is the recorded one)',
      '   f: stop on w2 (a second copy: without logging out, or both copies lose the login)',
      '',
      '🔀 Placement:',
      '   b: move w2 → w1 (w2 is draining)',
      '   c: move w3 → w1 (w3 is dead)',
      '   d: wait: w3 holds its lease until 2025-11-20T02:15:30.000Z; it moves once the lease lapses',
      '   e: wait: w4 did not answer this run (it may still run it: nothing moves until it is dead)',
      '   g: start on w1 (new: the healthy worker with the most room)',
      '   h: runs on w1, not on its recorded worker: recorded there, never started twice',
      '',
      '   Sessions kept: 3, started: 1, moved: 2, waiting: 2',
      '   Duplicates: 1 (copies stopped: 1)',
    ]);
  });

  it('says loudly when no worker answered', () => {
    const lines = renderFleetReport(
      {
        allDown: true,
        workers: [{ workerId: 'w1', url: 'http://w1:3001', verdict: 'unreachable', draining: false, capacity: null, sessions: 0, free: null, assigned: 0 }],
        decisions: [{ sessionId: 'a', action: 'wait', workerId: 'w1', reason: 'all_down' }],
      },
      { color: false },
    );
    expect(lines).toContain('❌ No worker answered: nothing is started or moved (the run exits 1)');
    expect(lines).toContain('   a: wait: no worker answered');
    expect(lines[0]).toBe('🛰️  Fleet: 1 worker, 0 healthy');
  });

  it('escapes control characters in ids, and colours only when asked', () => {
    const evil: Plan = {
      allDown: false,
      workers: [{ ...fleet.workers[0], workerId: 'w\u001b[2J' }],
      decisions: [
        { sessionId: 'd\u0007', action: 'keep', workerId: 'w\u001b[2J', reason: 'duplicate' },
        { sessionId: 'd\u0007', action: 'stop', workerId: 'w\u001b[2J', reason: 'duplicate' },
        { sessionId: 's\u202e', action: 'start', workerId: 'w\u001b[2J', reason: 'new' },
      ],
    };
    const plain = renderFleetReport(evil, { color: false }).join('\n');
    expect(plain).toContain('s\\u202e: start on w\\x1b[2J (new');
    expect(plain).toContain('d\\x07: stop on w\\x1b[2J');
    expect(plain).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u202e]/);
    const coloured = renderFleetReport(evil, { color: true }).join('\n');
    expect(coloured).toContain('\u001b[32m');
  });

  it('words every wait and start reason', () => {
    expect(describeDecision({ sessionId: 'a', action: 'wait', workerId: null, reason: 'no_capacity' })).toBe(
      'wait: no healthy worker has room; add a worker or raise WHATSAPP_MAX_SESSIONS',
    );
    expect(describeDecision({ sessionId: 'a', action: 'wait', workerId: 'w2', reason: 'no_capacity' })).toContain('(still on w2)');
    expect(describeDecision({ sessionId: 'a', action: 'start', workerId: 'w2', reason: 'recorded_worker_full' })).toBe(
      'start on w2 (its recorded worker is full)',
    );
    expect(describeDecision({ sessionId: 'a', action: 'start', workerId: 'w2', reason: 'lease_holder' })).toBe('start on w2 (the worker holding its lease)');
  });
});

describe('fleetJson', () => {
  it("reports a dead worker's sessions moved by plan()", () => {
    const planned = plan({
      accounts: [{ sessionId: 'a', workspaceId: '1', shouldRun: true, workerId: 'w1', status: 'connected' }],
      workers: [
        { workerId: 'w1', url: 'http://w1:3001', reachable: false, unreachableRuns: 2, draining: false, capacity: null, sessions: [] },
        { workerId: 'w2', url: 'http://w2:3001', reachable: true, unreachableRuns: 0, draining: false, capacity: { max: 4, used: 0 }, sessions: [] },
      ],
      leases: [],
      now: new Date('2025-11-20T02:15:00.000Z'),
    });
    expect(fleetJson(planned).moves).toEqual([{ session_id: 'a', action: 'move', from: 'w1', worker_id: 'w2', reason: 'worker_dead' }]);
    expect(renderFleetReport(planned, { color: false })).toContain('   a: move w1 → w2 (w1 is dead)');
  });

  it('gives workers and every move with its reason, leaving plain keeps out', () => {
    // Strict: a key set to `undefined` (a `from` on a start) is a key `--json` should not have.
    expect(fleetJson(fleet)).toStrictEqual({
      all_down: false,
      workers: [
        { worker_id: 'w1', url: 'http://w1:3001', verdict: 'healthy', draining: false, capacity: { max: 10, used: 3 }, sessions: 3, free: 5, assigned: 2 },
        { worker_id: 'w2', url: 'http://w2:3001', verdict: 'draining', draining: true, capacity: { max: null, used: 1 }, sessions: 1, free: null, assigned: 0 },
        { worker_id: 'w3', url: 'http://w3:3001', verdict: 'dead', draining: false, capacity: null, sessions: 0, free: null, assigned: 0 },
        { worker_id: 'w4', url: 'http://w4:3001', verdict: 'unreachable', draining: true, capacity: null, sessions: 0, free: null, assigned: 0 },
      ],
      moves: [
        { session_id: 'b', action: 'move', from: 'w2', worker_id: 'w1', reason: 'draining' },
        { session_id: 'c', action: 'move', from: 'w3', worker_id: 'w1', reason: 'worker_dead' },
        { session_id: 'd', action: 'wait', worker_id: 'w3', reason: 'lease_held', until: '2025-11-20T02:15:30.000Z' },
        { session_id: 'e', action: 'wait', worker_id: 'w4', reason: 'worker_unreachable' },
        { session_id: 'f', action: 'keep', worker_id: 'w1', reason: 'duplicate' },
        { session_id: 'f', action: 'stop', worker_id: 'w2', reason: 'duplicate' },
        { session_id: 'g', action: 'start', worker_id: 'w1', reason: 'new' },
        { session_id: 'h', action: 'keep', worker_id: 'w1', reason: 'found_elsewhere' },
      ],
      summary: { kept: 3, started: 1, moved: 2, waiting: 2, stopped: 1, duplicates: 1 },
    });
  });

  it('holds only JSON values (no Date, no undefined key), so --json prints what the text says', () => {
    const json = fleetJson(fleet);
    expect(JSON.parse(JSON.stringify(json))).toStrictEqual(json);
  });
});
