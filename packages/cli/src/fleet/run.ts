import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import type { WorkerSession } from '@wa-session-sync/shared';
import type { SyncConfig } from '../config';
import { readActiveAccountPages, writeAccounts } from '../db/accounts';
import { readLeases, readWorkerRows, recordAccountWorkers, recordWorkerRuns } from '../db/fleet';
import { asDatabaseError, type Database } from '../db/knex';
import type { SyncLock } from '../db/lock';
import type { Account, PlannedChange, RequestOutcome, WorkerSnapshot } from '../sync/model';
import { describeChange, type SyncReport } from '../sync/outcome';
import { Planner } from '../sync/plan';
import { auditRun, findings, openAndLock, openAuditLog, phaseTimer, settledWrites } from '../sync/run';
import { plan as placeSessions, type Decision, type Plan } from './placement';
import { readFleet, workerInputs, type WorkerReading } from './read';
import { fleetJson, type FleetJson } from './report';

// One sync run over a fleet: lock, read (every worker in parallel, the accounts, the workers'
// table, the leases), plan twice (the sync's status plan, unchanged, and placement), act, write,
// audit; the lock released and everything closed in `finally`. Placement decides where a session
// that must be started goes and which sessions wait; the sync's plan still decides whether a
// session is started at all (`--auto-reconnect`, back-off, a person's decision) and what its row says.

/** What became of one placement decision that asks something of a worker. */
export interface FleetRequestResult {
  session_id: string;
  action: 'start' | 'move' | 'stop';
  worker_id: string;
  from?: string;
  /**
   * `done`: the worker took it; `failed`: it refused or did not answer (`error`); `lease_wait`: it
   * answered `409 session_leased_elsewhere`, the old lease still lives (a wait, not an error);
   * `planned`: `--dry-run`; `not_started`: the sync's plan does not start this session this run
   * (no `--auto-reconnect`, backed off, or given up); `left_to_drain`: a draining worker's session,
   * which `wa-sync drain` moves one at a time.
   */
  result: 'done' | 'failed' | 'lease_wait' | 'planned' | 'not_started' | 'left_to_drain';
  error?: string;
}

export interface FleetReport extends FleetJson {
  /** Every configured URL that did not answer, with why (a silent worker's id, if known, is among `workers`). */
  unreachable: Array<{ url: string; error: string }>;
  requests: FleetRequestResult[];
  /** Rows whose `worker_id` this run changed. */
  workers_recorded: number;
}

export type FleetSyncOutcome =
  | { kind: 'skipped'; reason: string }
  /** `allDown`: no worker answered; nothing was sent or written, and the run exits 1. */
  | { kind: 'done'; allDown: boolean; plan: Plan; report: SyncReport & { fleet: FleetReport } };

const LEASE_HELD = 'session_leased_elsewhere';

export async function runFleetSync(config: SyncConfig, clock: () => Date = () => new Date()): Promise<FleetSyncOutcome> {
  const urls = config.fleet!;
  const { startedAt, timings, lap } = phaseTimer();
  const log = config.dryRun ? undefined : await openAuditLog(config.auditLogPath);
  let db: Database | undefined;
  let lock: SyncLock | null = null;
  let readings: WorkerReading[] = [];
  try {
    const opened = await openAndLock(config, clock());
    db = opened.db;
    lock = opened.lock;
    if (!lock) return { kind: 'skipped', reason: opened.skipped ?? 'another sync-sessions run holds the lock' };
    const database = db!;
    const connection = lock.connection;
    lap('lock');

    // Inside the lock, like the single-worker run: a run that does not get it asks no worker anything.
    const dbStep = <T>(step: Promise<T>) =>
      step.catch((error: unknown) => {
        throw asDatabaseError(error, config.database);
      });
    const reading = readFleet(urls, {
      apiKey: config.apiKey,
      timeoutMs: config.requestTimeoutMs,
      deadline: Date.now() + config.runTimeoutMs,
      concurrency: config.reconnectConcurrency,
      workspaceId: config.workspaceId,
    });
    const accounts = await dbStep(readAllAccounts(database, config.workspaceId, connection));
    const rows = await dbStep(readWorkerRows(database.knex, connection));
    const leases = await dbStep(readLeases(database.knex, connection));
    readings = await reading;
    lap('read');

    const now = clock();
    const named = new Set<string>([...leases.map((l) => l.workerId), ...accounts.flatMap((a) => (a.worker_id ? [a.worker_id] : []))]);
    const inputs = workerInputs(readings, rows, named);
    const clientOf = new Map(readings.flatMap((r) => (r.ok ? [[r.identity.workerId ?? r.url, r.client] as const] : [])));

    // The sessions as the sync's plan sees them: every answering worker's, one copy each (a
    // duplicate's copy is the one placement keeps), so the status plan is the single-worker one.
    const firstPass = placeSessions({ accounts: placementAccounts(accounts, new Set()), workers: inputs, leases, now });
    const snapshot = mergedSnapshot(readings, firstPass.decisions);
    const planner = new Planner(snapshot.merged, { autoReconnect: config.autoReconnect, backoff: config.backoff, startNew: true }, now);
    planner.add(accounts);
    const planned = planner.finish();
    const starting = new Set(planned.changes.filter((c) => c.action === 'start').map((c) => c.account.session_id));
    const fleetPlan = placeSessions({ accounts: placementAccounts(accounts, starting), workers: inputs, leases, now });
    const decisions = new Map<string, Decision>();
    for (const d of fleetPlan.decisions) if (d.action !== 'stop') decisions.set(d.sessionId, d);
    const verdicts = new Map(fleetPlan.workers.map((w) => [w.workerId, w.verdict]));
    lap('plan');

    if (fleetPlan.allDown) {
      return { kind: 'done', allDown: true, plan: fleetPlan, report: report(config, database, now, fleetPlan, readings, [], planned, [], 0, null, [], startedAt, timings) };
    }

    // A session whose worker is silent but not yet dead may still run there: its row is left
    // alone (no "not found", no start elsewhere) until that worker answers or is dead.
    const changes = planned.changes.filter((change) => {
      if (snapshot.where.has(change.account.session_id)) return true;
      const decision = decisions.get(change.account.session_id);
      if (decision?.action === 'wait' && decision.reason !== 'no_capacity') return false;
      const recorded = change.account.worker_id;
      return !(recorded && verdicts.get(recorded) === 'unreachable');
    });

    // Act: starts and failover moves where placement put them, reconnects where the session
    // runs, duplicate copies stopped (without logging out).
    const outcomes = new Map<PlannedChange, RequestOutcome>();
    const results: FleetRequestResult[] = [];
    const limit = pLimit(config.reconnectConcurrency);
    const tasks: Promise<void>[] = [];
    const placed: Array<{ sessionId: string; workerId: string }> = [];
    for (const d of fleetPlan.decisions) if (d.action === 'keep') placed.push({ sessionId: d.sessionId, workerId: d.workerId });
    for (const change of changes) {
      const sessionId = change.account.session_id;
      const request = { session_id: sessionId, workspace_id: change.account.workspace_id };
      if (change.action === 'reconnect') {
        const client = clientOf.get(snapshot.where.get(sessionId)!)!;
        if (!config.dryRun) tasks.push(limit(async () => void outcomes.set(change, await client.send({ kind: 'reconnect', ...request }))));
        continue;
      }
      if (change.action !== 'start') continue;
      const decision = decisions.get(sessionId);
      if (decision?.action !== 'start' && decision?.action !== 'move') continue; // waits: the planned write stands, no attempt counted
      const result: FleetRequestResult = {
        session_id: sessionId,
        action: decision.action,
        worker_id: decision.workerId,
        ...(decision.action === 'move' ? { from: decision.from } : {}),
        result: 'planned',
      };
      results.push(result);
      if (config.dryRun) continue;
      const client = clientOf.get(decision.workerId)!;
      tasks.push(
        limit(async () => {
          const outcome = await client.send({ kind: 'start', ...request });
          if (!outcome.ok && outcome.error.includes(`(${LEASE_HELD})`)) {
            result.result = 'lease_wait';
            return;
          }
          outcomes.set(change, outcome);
          result.result = outcome.ok ? 'done' : 'failed';
          if (outcome.ok) placed.push({ sessionId, workerId: decision.workerId });
          else result.error = outcome.error;
        }),
      );
    }
    for (const d of fleetPlan.decisions) {
      if (d.action === 'move' && d.reason === 'draining') {
        results.push({ session_id: d.sessionId, action: 'move', worker_id: d.workerId, from: d.from, result: 'left_to_drain' });
      } else if ((d.action === 'start' || d.action === 'move') && !starting.has(d.sessionId)) {
        results.push({ session_id: d.sessionId, action: d.action, worker_id: d.workerId, result: 'not_started' });
      } else if (d.action === 'stop') {
        const result: FleetRequestResult = { session_id: d.sessionId, action: 'stop', worker_id: d.workerId, result: 'planned' };
        results.push(result);
        if (config.dryRun) continue;
        const client = clientOf.get(d.workerId)!;
        tasks.push(
          limit(async () => {
            try {
              const answer = await client.stopSession(d.sessionId);
              result.result = answer.statusCode >= 200 && answer.statusCode < 300 ? 'done' : 'failed';
              if (result.result === 'failed') result.error = `HTTP ${answer.statusCode}${answer.code ? ` (${answer.code})` : ''}`;
            } catch (error) {
              result.result = 'failed';
              result.error = error instanceof Error ? error.message : String(error);
            }
          }),
        );
      }
    }
    await Promise.all(tasks);
    lap('requests');

    const writes = settledWrites(changes, outcomes, config.backoff, now);
    let written = new Set<string>();
    let writeError: unknown;
    let workersRecorded = 0;
    if (!config.dryRun) {
      try {
        if (writes.size > 0) written = await writeAccounts(database.knex, [...writes.values()], now, connection);
        const recorded = new Map(accounts.map((a) => [a.session_id, a.worker_id ?? null]));
        workersRecorded = await recordAccountWorkers(
          database.knex,
          placed.filter((p) => recorded.has(p.sessionId) && recorded.get(p.sessionId) !== p.workerId),
          connection,
        );
        const answered = new Set(inputs.filter((w) => w.reachable).map((w) => w.workerId));
        await recordWorkerRuns(database.knex, [...answered], rows.filter((row) => !answered.has(row.workerId)).map((row) => row.workerId), connection);
      } catch (error) {
        writeError = asDatabaseError(error, config.database);
      }
    }
    lap('write');

    const { runId, mismatches, auditFile, warnings } = await auditRun(log, changes, { writes, outcomes, written, writeError }, config.dryRun);
    lap('audit');
    return {
      kind: 'done',
      allDown: false,
      plan: fleetPlan,
      report: report(config, database, now, fleetPlan, readings, results, planned, mismatches, workersRecorded, auditFile, warnings, startedAt, timings, runId),
    };
  } finally {
    await (lock as SyncLock | null)?.release().catch(() => undefined);
    await (db as Database | undefined)?.close().catch(() => undefined);
    await Promise.all(readings.map((r) => r.client.close().catch(() => undefined)));
  }
}

/** Every active account, read a page at a time with its `worker_id`. A fleet's run keeps them all: placement needs each. */
export async function readAllAccounts(database: Database, workspaceId: string | undefined, connection: unknown): Promise<Account[]> {
  const pages = readActiveAccountPages(database.knex, workspaceId, connection, undefined, true);
  const accounts: Account[] = [];
  try {
    for (let page = await pages.next(); page; page = await pages.next()) accounts.push(...page);
  } finally {
    await pages.close();
  }
  return accounts;
}

/** Accounts as placement reads them; `shouldRun`: the sync's plan starts it this run. */
export function placementAccounts(accounts: readonly Account[], starting: ReadonlySet<string>) {
  return accounts.map((a) => ({
    sessionId: a.session_id,
    workspaceId: a.workspace_id,
    shouldRun: starting.has(a.session_id),
    workerId: a.worker_id ?? null,
    status: a.status,
  }));
}

/**
 * One snapshot of every answering worker's sessions, as the single worker's would be, and where
 * each session is (the worker id). A session on several workers counts once: on the copy placement
 * keeps (its lease holder, else its recorded worker).
 */
function mergedSnapshot(
  readings: readonly WorkerReading[],
  decisions: readonly Decision[],
): { merged: WorkerSnapshot; where: Map<string, string> } {
  const kept = new Map<string, string>();
  for (const d of decisions) if (d.action === 'keep') kept.set(d.sessionId, d.workerId);
  const copies = new Map<string, { session: WorkerSession; workerId: string }>();
  const merged: WorkerSnapshot = { sessions: [], invalid: [], invalidValues: [] };
  readings.forEach((reading) => {
    if (!reading.ok) return;
    const workerId = reading.identity.workerId ?? reading.url;
    merged.invalid.push(...reading.snapshot.invalid);
    merged.invalidValues.push(...reading.snapshot.invalidValues);
    for (const session of reading.snapshot.sessions) {
      const known = copies.get(session.session_id);
      if (!known || kept.get(session.session_id) === workerId) copies.set(session.session_id, { session, workerId });
    }
  });
  const where = new Map<string, string>();
  for (const [sessionId, copy] of copies) {
    merged.sessions.push(copy.session);
    where.set(sessionId, copy.workerId);
  }
  return { merged, where };
}

function report(
  config: SyncConfig,
  database: Database,
  now: Date,
  fleetPlan: Plan,
  readings: readonly WorkerReading[],
  requests: FleetRequestResult[],
  planned: ReturnType<Planner['finish']>,
  mismatches: ReturnType<typeof describeChange>[],
  workersRecorded: number,
  auditFile: string | null,
  warnings: string[],
  startedAt: number,
  timings: Record<string, number>,
  runId: string = randomUUID(),
): SyncReport & { fleet: FleetReport } {
  const answered = readings.filter((r): r is Extract<WorkerReading, { ok: true }> => r.ok);
  return {
    run_id: runId,
    dry_run: config.dryRun,
    auto_reconnect: config.autoReconnect,
    reconnect_policy: { base_minutes: config.backoff.baseMinutes, max_attempts: config.backoff.maxAttempts },
    workspace_id: config.workspaceId ?? null,
    started_at: now.toISOString(),
    // The fleet as one worker: what answered, summed (the longest uptime).
    worker: {
      url: answered.map((r) => r.url).join(','),
      uptime: Math.max(0, ...answered.map((r) => r.health.uptime)),
      total: answered.reduce((n, r) => n + r.health.total, 0),
      connected: answered.reduce((n, r) => n + r.health.connected, 0),
    },
    database: { label: database.config.label, active_accounts: planned.accountsChecked },
    ...findings(planned, mismatches, config.dryRun),
    audit_log: auditFile,
    warnings,
    duration_ms: Math.round(performance.now() - startedAt),
    timings_ms: timings,
    fleet: {
      ...fleetJson(fleetPlan),
      unreachable: readings.flatMap((r) => (r.ok ? [] : [{ url: r.url, error: r.error }])),
      requests,
      workers_recorded: workersRecorded,
    },
  };
}
