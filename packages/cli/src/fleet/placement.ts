import { isDeadStatus, isSessionStatus } from '@wa-session-sync/shared';
import { WaSyncError } from '../errors';

// Placement and failover for a fleet of workers: which worker runs which session, as a pure
// function of what the sync read this run (accounts, every worker's health and sessions, the
// leases) and the time it is given. No I/O and no clock of its own, like the sync's `plan()`:
// the same input gives the same plan, whatever the order of its arrays.

/** One active account as placement needs it. */
export interface AccountInput {
  sessionId: string;
  workspaceId: string;
  /** Desired state: the sync's `wantsRunning()` (a person wants this session up). */
  shouldRun: boolean;
  /** `whatsapp_accounts.worker_id`: where the session was last recorded to run; `null` if never placed. */
  workerId: string | null;
  /** The row's status column (reported, not used to decide: the workers' lists are the truth). */
  status: string;
}

/** One worker of the fleet, as read this run. */
export interface WorkerInput {
  workerId: string;
  url: string;
  /** Answered health and sessions this run. */
  reachable: boolean;
  /** Consecutive runs without an answer, this one included (0 if reachable). */
  unreachableRuns: number;
  /** `whatsapp_workers.draining`: a person is emptying it; nothing new lands on it. */
  draining: boolean;
  /** From `/health`; `null` if unreachable. `max: null` is a worker without a cap. */
  capacity: { max: number | null; used: number } | null;
  /** What it runs now, from `/api/sessions` (`[]` if unreachable). */
  sessions: Array<{ sessionId: string; status: string }>;
}

/** One row of `whatsapp_session_leases`. */
export interface LeaseInput {
  sessionId: string;
  workerId: string;
  expiresAt: Date;
}

/**
 * What this run makes of a worker:
 * - `healthy`: answered, not draining, room left (or no cap): sessions may be placed on it;
 * - `draining`: answered, marked draining: keeps nothing new, its sessions are move candidates;
 * - `full`: answered, `used >= max`: keeps what it runs, takes nothing new;
 * - `unreachable`: no answer this run only (or a few runs, below `deadAfterRuns`) and it still
 *   holds a live lease (or none at all): its sessions wait, since it may still run them;
 * - `dead`: no answer for `deadAfterRuns` runs in a row, or no answer and every lease it holds has
 *   lapsed: its sessions are started elsewhere once their leases allow.
 */
export type WorkerVerdict = 'healthy' | 'draining' | 'full' | 'unreachable' | 'dead';

/** Why a session stays where it runs. `found_elsewhere`: runs on a worker other than its recorded one (record it). */
export type KeepReason = 'running' | 'found_elsewhere' | 'duplicate';
/**
 * Why a session that runs nowhere is started where it is:
 * `new` (never placed), `recorded_worker` (its recorded worker is healthy), `lease_holder` (a
 * healthy worker holds its live lease), `recorded_worker_full` / `recorded_worker_draining` /
 * `recorded_worker_unknown` (its recorded worker cannot take it, or is not in the fleet).
 */
export type StartReason =
  | 'new'
  | 'recorded_worker'
  | 'lease_holder'
  | 'recorded_worker_full'
  | 'recorded_worker_draining'
  | 'recorded_worker_unknown';
/** Why a session leaves a worker: it is dead, or draining. */
export type MoveReason = 'worker_dead' | 'draining';
/**
 * Why a session is left as it is for now:
 * `lease_held` (a worker that cannot run it here holds its lease until `until`),
 * `worker_unreachable` (its worker missed this run only: it may still run it, and a move needs
 * the old worker dead or draining), `no_capacity` (no healthy worker has room),
 * `all_down` (no worker answered: nothing moves, the run exits 1).
 */
export type WaitReason = 'lease_held' | 'worker_unreachable' | 'no_capacity' | 'all_down';

/**
 * What to do about one session. A session has one decision, except a duplicate: a `keep` on the
 * copy that stays and a `stop` for each other copy, all with reason `duplicate`.
 *
 * `stop` is used for duplicates only: a session that runs though its account does not want it
 * is kept (and its worker recorded), because stopping a person's session is the owning
 * application's call; the existing sync already mirrors its status and never stops one either.
 */
export type Decision =
  | { sessionId: string; action: 'keep'; workerId: string; reason: KeepReason }
  | { sessionId: string; action: 'start'; workerId: string; reason: StartReason }
  | { sessionId: string; action: 'move'; from: string; workerId: string; reason: MoveReason }
  /** `workerId`: the worker it waits on, or `null`; `until` (ISO-8601 UTC): when the lease it waits on lapses. */
  | { sessionId: string; action: 'wait'; workerId: string | null; reason: WaitReason; until?: string }
  | { sessionId: string; action: 'stop'; workerId: string; reason: 'duplicate' };

export interface WorkerPlan {
  workerId: string;
  url: string;
  verdict: WorkerVerdict;
  /** Kept apart from the verdict: an unreachable or dead worker may be draining too. */
  draining: boolean;
  /** As the worker reported it; `null` if it did not answer. */
  capacity: { max: number | null; used: number } | null;
  /** Sessions it listed this run. */
  sessions: number;
  /** Room left after this plan's starts and moves: `max - used - assigned` (0 if over its cap); `null`: no cap, or no answer. */
  free: number | null;
  /** Sessions this plan starts or moves onto it. */
  assigned: number;
}

export interface Plan {
  /** Every worker, by id. */
  workers: WorkerPlan[];
  /** By session id; a duplicate's `keep` comes before its `stop`s. */
  decisions: Decision[];
  /** No worker answered: every session waits (`all_down`) and the run exits 1. */
  allDown: boolean;
}

export interface PlanInput {
  accounts: AccountInput[];
  workers: WorkerInput[];
  leases: LeaseInput[];
  now: Date;
  /** Consecutive runs without an answer after which a worker is dead (default 2). */
  deadAfterRuns?: number;
}

export const DEFAULT_DEAD_AFTER_RUNS = 2;

/** Thrown by {@link plan} when two workers report the same id: each needs its own `WHATSAPP_WORKER_ID`. */
export class DuplicateWorkerIdError extends WaSyncError {
  readonly code = 'WORKER_ID_DUPLICATE';
  readonly exitCode = 2;
}

/** Worker state while planning: `load` and `assigned` grow as sessions are placed. */
interface WorkerState {
  input: WorkerInput;
  verdict: WorkerVerdict;
  /** `null`: no cap. */
  max: number | null;
  /** Sessions it holds or is given by this plan. */
  load: number;
  assigned: number;
}

/**
 * The placement of every session of the fleet. Level-based: it reads the whole desired and
 * observed state every time and never depends on an earlier run, except through what the input
 * carries (`unreachableRuns`, the leases).
 *
 * Sessions pinned to a worker (running, or started on their recorded worker or lease holder)
 * are decided first, then the others are placed in session-id order, each on the healthy worker
 * with the most room, so pinned sessions never lose their place to new ones.
 */
export function plan(input: PlanInput): Plan {
  const deadAfterRuns = input.deadAfterRuns ?? DEFAULT_DEAD_AFTER_RUNS;
  const now = input.now.getTime();
  const leases = liveLeaseBySession(input.leases, now);
  const workers = workerStates(input.workers, input.leases, now, deadAfterRuns);
  const allDown = ![...workers.values()].some((w) => w.input.reachable);
  const running = runningCopies(workers);
  const accounts = [...input.accounts].sort((a, b) => compareIds(a.sessionId, b.sessionId));

  const decisions = new Map<string, Decision[]>();
  const unplaced: Array<{ account: AccountInput; from: string | null; reason: StartReason | MoveReason }> = [];
  for (const account of accounts) {
    if (decisions.has(account.sessionId)) continue; // the same session id twice: the first row decides
    const decided = pinned(account, running.get(account.sessionId) ?? [], workers, leases.get(account.sessionId), allDown);
    if ('place' in decided) unplaced.push({ account, ...decided.place });
    else if (decided.length > 0) decisions.set(account.sessionId, decided);
  }
  for (const { account, from, reason } of unplaced) {
    const target = leastLoaded(workers);
    let decision: Decision;
    if (!target) decision = { sessionId: account.sessionId, action: 'wait', workerId: from, reason: 'no_capacity' };
    else {
      assign(target);
      decision =
        reason === 'worker_dead' || reason === 'draining'
          ? { sessionId: account.sessionId, action: 'move', from: from!, workerId: target.input.workerId, reason }
          : { sessionId: account.sessionId, action: 'start', workerId: target.input.workerId, reason };
    }
    decisions.set(account.sessionId, [decision]);
  }

  return {
    workers: [...workers.values()].map(workerPlan),
    decisions: [...decisions.keys()].sort(compareIds).flatMap((id) => decisions.get(id)!),
    allDown,
  };
}

/**
 * The decision for a session whose place is fixed (it runs, it waits, it starts on its recorded
 * worker or lease holder), or `place`: it needs a worker chosen among the healthy ones.
 */
function pinned(
  account: AccountInput,
  copies: WorkerState[],
  workers: ReadonlyMap<string, WorkerState>,
  lease: LeaseInput | undefined,
  allDown: boolean,
): Decision[] | { place: { from: string | null; reason: StartReason | MoveReason } } {
  const sessionId = account.sessionId;
  // Whatever the account wants: a session that runs twice is a double login in the making.
  if (copies.length > 1) {
    const holder =
      copies.find((w) => w.input.workerId === lease?.workerId) ??
      copies.find((w) => w.input.workerId === account.workerId) ??
      copies[0];
    return [
      { sessionId, action: 'keep', workerId: holder.input.workerId, reason: 'duplicate' },
      ...copies.filter((w) => w !== holder).map((w): Decision => ({ sessionId, action: 'stop', workerId: w.input.workerId, reason: 'duplicate' })),
    ];
  }
  if (copies.length === 1) {
    const [where] = copies;
    // A drain empties the worker for maintenance, so even a session nobody wants running leaves it.
    if (where.verdict === 'draining') return { place: { from: where.input.workerId, reason: 'draining' } };
    const reason: KeepReason = where.input.workerId === account.workerId ? 'running' : 'found_elsewhere';
    return [{ sessionId, action: 'keep', workerId: where.input.workerId, reason }];
  }
  if (!account.shouldRun) return [];
  if (allDown) return [{ sessionId, action: 'wait', workerId: account.workerId, reason: 'all_down' }];

  // A live lease pins the session to its holder: a start anywhere else would be refused (`409`).
  if (lease) {
    const holder = workers.get(lease.workerId);
    if (holder && hasRoom(holder)) {
      assign(holder);
      const reason: StartReason = lease.workerId === account.workerId ? 'recorded_worker' : 'lease_holder';
      return [{ sessionId, action: 'start', workerId: lease.workerId, reason }];
    }
    if (holder?.verdict === 'unreachable') return [{ sessionId, action: 'wait', workerId: lease.workerId, reason: 'worker_unreachable' }];
    return [{ sessionId, action: 'wait', workerId: lease.workerId, reason: 'lease_held', until: lease.expiresAt.toISOString() }];
  }

  if (account.workerId === null) return { place: { from: null, reason: 'new' } };
  const recorded = workers.get(account.workerId);
  if (!recorded) return { place: { from: account.workerId, reason: 'recorded_worker_unknown' } };
  switch (recorded.verdict) {
    case 'healthy':
      if (!hasRoom(recorded)) return { place: { from: account.workerId, reason: 'recorded_worker_full' } };
      assign(recorded);
      return [{ sessionId, action: 'start', workerId: account.workerId, reason: 'recorded_worker' }];
    case 'full':
      return { place: { from: account.workerId, reason: 'recorded_worker_full' } };
    case 'draining':
      return { place: { from: account.workerId, reason: 'recorded_worker_draining' } };
    case 'unreachable':
      // No bounce: it may be back next run with the session still running.
      return [{ sessionId, action: 'wait', workerId: account.workerId, reason: 'worker_unreachable' }];
    case 'dead':
      return { place: { from: account.workerId, reason: 'worker_dead' } };
  }
}

function workerStates(
  inputs: readonly WorkerInput[],
  leases: readonly LeaseInput[],
  now: number,
  deadAfterRuns: number,
): Map<string, WorkerState> {
  const held = new Map<string, { live: number; lapsed: number }>();
  for (const lease of leases) {
    const counts = held.get(lease.workerId) ?? { live: 0, lapsed: 0 };
    if (lease.expiresAt.getTime() > now) counts.live++;
    else counts.lapsed++;
    held.set(lease.workerId, counts);
  }
  const states = new Map<string, WorkerState>();
  for (const input of [...inputs].sort((a, b) => compareIds(a.workerId, b.workerId))) {
    const twin = states.get(input.workerId);
    if (twin) {
      throw new DuplicateWorkerIdError(
        `two workers report the id ${JSON.stringify(input.workerId)} (${twin.input.url} and ${input.url}): give each its own WHATSAPP_WORKER_ID, or list each URL once`,
      );
    }
    const max = input.capacity?.max ?? null;
    const used = input.capacity?.used ?? input.sessions.length;
    states.set(input.workerId, { input, verdict: verdictOf(input, max, used, held.get(input.workerId), deadAfterRuns), max, load: used, assigned: 0 });
  }
  return states;
}

/**
 * Lapsed leases make a worker dead only when it does not answer: a worker that answers and lists
 * a session runs it, whatever its leases say, and starting that session elsewhere would log the
 * number in twice. A silent worker whose every lease has lapsed has stopped renewing them, so its
 * sessions are free to go before the `deadAfterRuns` wait.
 */
function verdictOf(
  input: WorkerInput,
  max: number | null,
  used: number,
  leases: { live: number; lapsed: number } | undefined,
  deadAfterRuns: number,
): WorkerVerdict {
  if (!input.reachable) {
    if (input.unreachableRuns >= deadAfterRuns) return 'dead';
    if (leases && leases.lapsed > 0 && leases.live === 0) return 'dead';
    return 'unreachable';
  }
  if (input.draining) return 'draining';
  if (max !== null && used >= max) return 'full';
  return 'healthy';
}

/** For each session, the workers that answered and list it in a live status (a stopped entry holds no browser). */
function runningCopies(workers: ReadonlyMap<string, WorkerState>): Map<string, WorkerState[]> {
  const copies = new Map<string, WorkerState[]>();
  for (const worker of workers.values()) {
    if (!worker.input.reachable) continue;
    for (const session of worker.input.sessions) {
      if (isSessionStatus(session.status) && isDeadStatus(session.status)) continue;
      const list = copies.get(session.sessionId) ?? [];
      if (!list.includes(worker)) list.push(worker);
      copies.set(session.sessionId, list);
    }
  }
  return copies;
}

/** Each session's lease, if it has not lapsed (`expiresAt <= now` has); the latest, should a session have several rows. */
function liveLeaseBySession(leases: readonly LeaseInput[], now: number): Map<string, LeaseInput> {
  const live = new Map<string, LeaseInput>();
  for (const lease of leases) {
    if (lease.expiresAt.getTime() <= now) continue;
    const known = live.get(lease.sessionId);
    if (!known || lease.expiresAt.getTime() > known.expiresAt.getTime()) live.set(lease.sessionId, lease);
  }
  return live;
}

function hasRoom(worker: WorkerState): boolean {
  return worker.verdict === 'healthy' && (worker.max === null || worker.load < worker.max);
}

function assign(worker: WorkerState): void {
  worker.load++;
  worker.assigned++;
}

/**
 * The healthy worker with the most room: a worker without a cap counts as having the most;
 * ties go to the least loaded, then to the smallest id (so the plan is the same every time).
 */
function leastLoaded(workers: ReadonlyMap<string, WorkerState>): WorkerState | null {
  let best: WorkerState | null = null;
  for (const worker of workers.values()) {
    if (!hasRoom(worker)) continue;
    if (!best) {
      best = worker;
      continue;
    }
    const room = freeOf(worker) ?? Infinity;
    const bestRoom = freeOf(best) ?? Infinity;
    // Workers are visited by id, so on a full tie the one already chosen has the smaller id.
    if (room > bestRoom || (room === bestRoom && worker.load < best.load)) best = worker;
  }
  return best;
}

function freeOf(worker: WorkerState): number | null {
  return worker.max === null ? null : worker.max - worker.load;
}

function workerPlan(worker: WorkerState): WorkerPlan {
  const { input } = worker;
  return {
    workerId: input.workerId,
    url: input.url,
    verdict: worker.verdict,
    draining: input.draining,
    capacity: input.reachable ? (input.capacity ?? { max: null, used: input.sessions.length }) : null,
    sessions: input.sessions.length,
    free: input.reachable && worker.max !== null ? Math.max(0, worker.max - worker.load) : null,
    assigned: worker.assigned,
  };
}

/** Code-unit order: the same on every machine and locale, unlike `localeCompare`. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
