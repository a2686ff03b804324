import { CapacityExhaustedError } from '../errors';
import { Capacity, defaultMaxSessions, type CapacityLimits } from './capacity';

/** A capacity over a machine whose memory the test sets. */
function machine(limits: Partial<CapacityLimits> & { available: number; total?: number }) {
  const memory = { available: limits.available };
  const capacity = new Capacity({
    minFreeMemoryMb: 300,
    sessionMemoryMb: 150,
    ...limits,
    availableMemoryMb: () => memory.available,
    totalMemoryMb: () => limits.total ?? 16_000,
  });
  return { capacity, memory };
}

const refusal = (admit: () => unknown) => {
  try {
    admit();
  } catch (error) {
    return error instanceof CapacityExhaustedError ? error : undefined;
  }
  return undefined;
};

describe('admission', () => {
  it('admits only the launches that fit above the floor, each not finished counted at the estimate', () => {
    const { capacity } = machine({ available: 300 + 600 });
    const admitted = [1, 2, 3, 4].map(() => capacity.admit(0));
    expect(capacity.pending).toBe(4);
    expect(refusal(() => capacity.admit(0))).toMatchObject({
      code: 'capacity_exhausted',
      retryAfterSec: 30,
      message:
        'Not enough memory for another session: 900 MiB available, less 150 MiB (WHATSAPP_SESSION_MEMORY_MB) for it and for each of 4 launches not finished, leaves 150 MiB, under the 300 MiB floor (WHATSAPP_MIN_FREE_MEMORY_MB)',
    });
    expect(capacity.pending).toBe(4);
    capacity.finish(admitted[0]!);
    capacity.finish(admitted[0]!); // idempotent
    expect(capacity.pending).toBe(3);
    capacity.admit(0);
  });

  it('reads the memory at every decision: a finished launch counts in what is available, no longer at the estimate', () => {
    const { capacity, memory } = machine({ available: 590 });
    const first = capacity.admit(0);
    expect(refusal(() => capacity.admit(0))).toBeDefined();
    memory.available = 470; // its Chromium took 120 MiB
    capacity.finish(first);
    capacity.admit(1);
    memory.available = 449;
    expect(refusal(() => capacity.admit(2))).toBeDefined();
  });

  it('checks again as a launch leaves the gate, counting only the launches started before it', () => {
    const { capacity, memory } = machine({ available: 300 + 450 });
    const [a, b, c] = [capacity.admit(0), capacity.admit(0), capacity.admit(0)];
    expect(capacity.start(a)).toBe(a);
    expect(capacity.start(b)).toBe(b); // c waits in the gate: not counted here
    memory.available = 300 + 299; // memory went elsewhere while c waited
    expect(refusal(() => capacity.start(c))).toMatchObject({ code: 'capacity_exhausted' });
    expect(capacity.pending).toBe(2); // a refused launch is finished
    capacity.finish(a);
    capacity.finish(b);
    const relaunch = capacity.start(null); // a reconnect, never admitted, counts from its turn
    expect([relaunch.started, capacity.pending]).toEqual([true, 1]);
  });

  it('without an estimate, compares the available memory with the floor alone', () => {
    const { capacity, memory } = machine({ available: 301, sessionMemoryMb: 0 });
    for (let i = 0; i < 10; i++) capacity.admit(i);
    memory.available = 299;
    expect(refusal(() => capacity.admit(10))?.message).toBe('Only 299 MiB of memory available, under the 300 MiB floor (WHATSAPP_MIN_FREE_MEMORY_MB)');
  });

  it('has no floor at 0', () => {
    const { capacity } = machine({ available: 0, minFreeMemoryMb: 0 });
    capacity.admit(0);
  });
});

describe('the cap', () => {
  it('follows from the machine memory above the floor and the estimate when WHATSAPP_MAX_SESSIONS is unset', () => {
    expect(defaultMaxSessions(16_000, 300, 200)).toBe(78);
    expect(defaultMaxSessions(2_000, 300, 150)).toBe(11);
    expect(defaultMaxSessions(200, 300, 150)).toBe(1);
    expect(defaultMaxSessions(16_000, 300, 0)).toBeNull();
    expect(machine({ available: 10_000, total: 2_000 }).capacity.max).toBe(11);
    expect(machine({ available: 10_000, maxSessions: 3 }).capacity.max).toBe(3);
  });

  it('refuses a session beyond the cap, saying where the default came from', () => {
    const { capacity } = machine({ available: 10_000, total: 600 });
    capacity.admit(0);
    expect(refusal(() => capacity.admit(2))).toMatchObject({
      retryAfterSec: 60,
      message:
        'This worker runs its maximum of 2 sessions (its default cap from the machine memory and WHATSAPP_SESSION_MEMORY_MB; set WHATSAPP_MAX_SESSIONS to choose); start it on another worker or stop one',
    });
  });
});
