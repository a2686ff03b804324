import type { CliIo } from '../cli';
import type { DrainConfig } from '../config';
import { readLeases, readWorkerRows, recordAccountWorkers, setDraining } from '../db/fleet';
import { openDatabase, type Database } from '../db/knex';
import { acquireSyncLock, type SyncLock } from '../db/lock';
import {
  DrainMoveFailedError,
  DrainNoCapacityError,
  DrainWorkerUnavailableError,
  isWaSyncError,
  SyncLockBusyError,
} from '../errors';
import { describeNetworkError, type WorkerClient } from '../worker-client';
import { escapeUnprintable } from '../sync/report';
import { plan, type Decision } from './placement';
import { readFleet, workerInputs, type WorkerReading } from './read';
import { placementAccounts, readAllAccounts } from './run';

// `wa-sync drain <worker_id>`: mark the worker draining (in `whatsapp_workers`, so every sync run
// keeps new sessions off it), then move its sessions one at a time: stop on the old worker (no
// logout: the worker's stop saves the login a last time and releases the lease), start on the
// worker placement chooses, wait for `connected`, record the row's worker. Each move holds the
// sync's lock, so no sync run sees the session between its stop and its start (it would start it
// elsewhere too); between moves the lock is free and the controller's runs go on.

/** How often the drain asks again: the lock, a start refused while the old lease lives, the new worker's status. */
const POLL_MS = 250;

export interface MovedSession {
  session_id: string;
  from: string;
  to: string;
  /** From the stop to `connected`. */
  seconds: number;
}

export async function drainWorker(config: DrainConfig, workerId: string, io: CliIo): Promise<number> {
  const moved: MovedSession[] = [];
  const say = (line: string) => {
    if (!config.json) io.stdout.write(`${line}\n`);
  };
  const db = await openDatabase(config.database, { statementTimeoutMs: config.lockWaitMs });
  try {
    const { wasDraining } = await setDraining(db.knex, workerId, true);
    say(`🚧 ${escapeUnprintable(workerId)} is draining${wasDraining ? ' (it already was)' : ''}: no new session lands on it`);
    const tried = new Set<string>();
    for (;;) {
      const move = await withLock(db, config, () => moveOne(db, config, workerId, tried));
      if (!move) break;
      moved.push(move);
      say(`   ➡️  ${escapeUnprintable(move.session_id)}: ${escapeUnprintable(move.from)} → ${escapeUnprintable(move.to)}, connected after ${move.seconds} s`);
    }
    say(`✅ ${escapeUnprintable(workerId)} is drained: ${moved.length} session${moved.length === 1 ? '' : 's'} moved; \`wa-sync undrain ${escapeUnprintable(workerId)}\` lets sessions land on it again`);
    if (config.json) io.stdout.write(`${JSON.stringify({ ok: true, worker_id: workerId, drained: true, moved })}\n`);
    return 0;
  } catch (error) {
    if (!isWaSyncError(error)) throw error;
    // The moves made stand; what stopped the drain is said once, as every error of the CLI.
    io.stderr.write(`wa-sync: ${error.message} [${error.code}]\n`);
    if (config.json) {
      io.stdout.write(`${JSON.stringify({ ok: false, worker_id: workerId, drained: false, moved, error: { code: error.code, message: error.message } })}\n`);
    }
    return error.exitCode;
  } finally {
    await db.close().catch(() => undefined);
  }
}

export async function undrainWorker(config: DrainConfig, workerId: string, io: CliIo): Promise<number> {
  const db = await openDatabase(config.database);
  try {
    const { wasDraining } = await setDraining(db.knex, workerId, false);
    if (config.json) io.stdout.write(`${JSON.stringify({ ok: true, worker_id: workerId, draining: false, was_draining: wasDraining })}\n`);
    else io.stdout.write(`✅ ${escapeUnprintable(workerId)} takes new sessions again${wasDraining ? '' : ' (it was not draining)'}\n`);
    return 0;
  } finally {
    await db.close();
  }
}

/** `step` under the sync's lock, waited for as long as a sync run may take. */
async function withLock<T>(db: Database, config: DrainConfig, step: (lock: SyncLock) => Promise<T>): Promise<T> {
  const until = Date.now() + config.lockWaitMs;
  let lock = await acquireSyncLock(db);
  while (!lock) {
    if (Date.now() > until) {
      throw new SyncLockBusyError(`a sync-sessions run has held the lock for more than WA_SYNC_RUN_TIMEOUT_SECONDS (${config.lockWaitMs / 1000} s); run drain again once it is done`);
    }
    await sleep(POLL_MS);
    lock = await acquireSyncLock(db);
  }
  try {
    return await step(lock);
  } finally {
    await lock.release().catch(() => undefined);
  }
}

/** Moves the first session (by id) that placement moves off the worker; `null` when none is left. */
async function moveOne(db: Database, config: DrainConfig, workerId: string, tried: Set<string>): Promise<MovedSession | null> {
  const readings = await readFleet(config.fleet, {
    apiKey: config.apiKey,
    timeoutMs: config.requestTimeoutMs,
    deadline: Date.now() + config.connectTimeoutMs + config.requestTimeoutMs,
    concurrency: 2,
    workspaceId: undefined,
  });
  try {
    const [accounts, rows, leases] = [await readAllAccounts(db, undefined, undefined), await readWorkerRows(db.knex), await readLeases(db.knex)];
    const draining = readings.find((r): r is Extract<WorkerReading, { ok: true }> => r.ok && (r.identity.workerId ?? r.url) === workerId);
    if (!draining) {
      const silent = readings.filter((r) => !r.ok).map((r) => `${r.url}: ${(r as { error: string }).error}`);
      throw new DrainWorkerUnavailableError(
        `no worker of the fleet answers as ${JSON.stringify(workerId)}${silent.length > 0 ? ` (not answering: ${silent.join('; ')})` : ''}: ` +
          'nothing is moved from a worker that does not answer (the sync moves its sessions once it is dead); it stays marked draining',
      );
    }
    const named = new Set<string>(accounts.flatMap((a) => (a.worker_id ? [a.worker_id] : [])));
    const placed = plan({ accounts: placementAccounts(accounts, new Set()), workers: workerInputs(readings, rows, named), leases, now: new Date() });
    const off = placed.decisions.filter(
      (d) => (d.action === 'move' && d.from === workerId) || (d.action === 'wait' && d.workerId === workerId && d.reason === 'no_capacity'),
    );
    const next = off.find((d) => !tried.has(d.sessionId));
    if (!next) return null;
    if (next.action === 'wait') {
      throw new DrainNoCapacityError(
        `cannot move ${JSON.stringify(next.sessionId)}: no other healthy worker has room; it stays on ${workerId}. Add a worker or raise WHATSAPP_MAX_SESSIONS, then run drain again`,
      );
    }
    tried.add(next.sessionId);
    const move = next as Extract<Decision, { action: 'move' }>;
    const target = readings.find((r) => r.ok && (r.identity.workerId ?? r.url) === move.workerId)!;
    const workspaceId = draining.snapshot.sessions.find((s) => s.session_id === move.sessionId)?.workspace_id ?? accounts.find((a) => a.session_id === move.sessionId)?.workspace_id;
    const started = Date.now();
    await stop(draining.client, move.sessionId, workerId);
    await start(target.client, move.sessionId, workspaceId!, move.workerId, config.connectTimeoutMs, draining.client);
    // It runs there now, connected or not yet.
    if (accounts.some((a) => a.session_id === move.sessionId)) await recordAccountWorkers(db.knex, [{ sessionId: move.sessionId, workerId: move.workerId }]);
    await connected(target.client, move.sessionId, move.workerId, started + config.connectTimeoutMs);
    return { session_id: move.sessionId, from: workerId, to: move.workerId, seconds: Math.round((Date.now() - started) / 100) / 10 };
  } finally {
    await Promise.all(readings.map((r) => r.client.close().catch(() => undefined)));
  }
}

/** `DELETE` without logout; a session the worker no longer has is stopped already. */
async function stop(client: WorkerClient, sessionId: string, workerId: string): Promise<void> {
  let answer;
  try {
    answer = await client.stopSession(sessionId);
  } catch (error) {
    throw new DrainMoveFailedError(`cannot stop ${JSON.stringify(sessionId)} on ${workerId}: ${describeNetworkError(error)}; it stays there`);
  }
  if ((answer.statusCode < 200 || answer.statusCode >= 300) && answer.statusCode !== 404) {
    throw new DrainMoveFailedError(`cannot stop ${JSON.stringify(sessionId)} on ${workerId}: HTTP ${answer.statusCode}${answer.code ? ` (${answer.code})` : ''}; it stays there`);
  }
}

/**
 * `POST` on the new worker, asked again while it answers `409 session_leased_elsewhere` (the old
 * worker's stop releases the lease after its final save). A start that fails puts the session back
 * on its old worker (still able to run it: draining only keeps new sessions off), so a failed
 * drain never leaves a session running nowhere.
 */
async function start(client: WorkerClient, sessionId: string, workspaceId: string, workerId: string, timeoutMs: number, old: WorkerClient): Promise<void> {
  const until = Date.now() + timeoutMs;
  let why: string;
  for (;;) {
    try {
      const answer = await client.startSession(sessionId, workspaceId);
      if (answer.statusCode >= 200 && answer.statusCode < 300) return;
      why = `HTTP ${answer.statusCode}${answer.code ? ` (${answer.code})` : ''}`;
      if (answer.code === 'session_leased_elsewhere' && Date.now() < until) {
        await sleep(POLL_MS);
        continue;
      }
    } catch (error) {
      why = describeNetworkError(error);
    }
    break;
  }
  const back = await old.startSession(sessionId, workspaceId).then(
    (answer) => (answer.statusCode >= 200 && answer.statusCode < 300 ? 'started again on its old worker' : `and its old worker refused it back (HTTP ${answer.statusCode}): the sync places it on its next run`),
    () => 'and its old worker did not answer: the sync places it on its next run',
  );
  throw new DrainMoveFailedError(`cannot start ${JSON.stringify(sessionId)} on ${workerId}: ${why}; ${back}`);
}

/** Waits for the session to be `connected` on its new worker, until `until`. */
async function connected(client: WorkerClient, sessionId: string, workerId: string, until: number): Promise<void> {
  let last = 'unknown';
  while (Date.now() < until) {
    try {
      const answer = await client.getSession(sessionId);
      last = answer.statusCode === 200 ? (answer.status ?? 'unknown') : `HTTP ${answer.statusCode}`;
      if (answer.status === 'connected') return;
    } catch (error) {
      last = describeNetworkError(error);
    }
    await sleep(POLL_MS);
  }
  throw new DrainMoveFailedError(
    `${JSON.stringify(sessionId)} was started on ${workerId} but is not connected within WA_SYNC_DRAIN_CONNECT_TIMEOUT_SECONDS (last: ${last}); the drain stops there, the session stays on ${workerId}`,
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
