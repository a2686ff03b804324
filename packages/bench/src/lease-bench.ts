/**
 * `npm run bench:lease`: what the leases of WHATSAPP_AUTH_STORE=postgres cost Postgres, at
 * BENCH_WORKERS (100) stand-in workers of BENCH_SESSIONS_PER_WORKER (100) sessions: 10,000 leases.
 *
 * - acquire: every lease taken once, BENCH_ACQUIRE_CONCURRENCY (16) at a time (a fleet's first start);
 * - renewal round: each worker renews all its leases in one statement, as the worker does every
 *   third of the lease's life: BENCH_ROUNDS (10) rounds of 100 statements; wall time per round and
 *   per statement;
 * - row by row, side by side in the same run: one UPDATE per lease (what the batch replaces), one round;
 * - Postgres's own account of the time, from `pg_stat_database.active_time` (time spent executing
 *   statements, Postgres 14+) and `xact_commit`, read before and after each part;
 * - per minute at the default lease life (30 s: a renewal every 10 s per worker): statements and
 *   Postgres time, extrapolated from the rounds.
 *
 * Needs Postgres (BENCH_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres); makes and
 * drops its own database.
 */
import knexFactory, { type Knex } from 'knex';
import pLimit from 'p-limit';
import { acquireLease, renewLeases } from '@wa-session-sync/shared/dist/db';
import { migrateToLatest } from '@wa-session-sync/shared/dist/db/migrations';
import { createTestDatabase, DEFAULT_PG_ADMIN_URL } from '@wa-session-sync/test-support';

const WORKERS = Number(process.env.BENCH_WORKERS) || 100;
const PER_WORKER = Number(process.env.BENCH_SESSIONS_PER_WORKER) || 100;
const ROUNDS = Number(process.env.BENCH_ROUNDS) || 10;
const ACQUIRE_CONCURRENCY = Number(process.env.BENCH_ACQUIRE_CONCURRENCY) || 16;
const ADMIN_URL = process.env.BENCH_ADMIN_URL || DEFAULT_PG_ADMIN_URL;
const TTL_SECONDS = 30;
/** A worker renews every third of the lease's life. */
const RENEWALS_PER_MINUTE_PER_WORKER = 60 / (TTL_SECONDS / 3);

interface Stats {
  activeMs: number;
  commits: number;
}

/** Postgres's own counters for the database, once the statistics of finished transactions are in. */
async function stats(observer: Knex, database: string): Promise<Stats> {
  // Backends flush their statistics at most once a second, when idle.
  await new Promise((r) => setTimeout(r, 1200));
  await observer.raw('select pg_stat_clear_snapshot()');
  const { rows } = await observer.raw<{ rows: Array<{ active_time: number; xact_commit: string }> }>(
    'select active_time, xact_commit from pg_stat_database where datname = ?',
    [database],
  );
  return { activeMs: Number(rows[0]!.active_time), commits: Number(rows[0]!.xact_commit) };
}

function diff(after: Stats, before: Stats): Stats {
  return { activeMs: after.activeMs - before.activeMs, commits: after.commits - before.commits };
}

const ms = (n: number) => `${n.toFixed(1)} ms`;

async function main(): Promise<void> {
  const db = await createTestDatabase({ prefix: 'wa_bench_lease', adminUrl: ADMIN_URL });
  const knex = knexFactory({ client: 'pg', connection: db.url, pool: { min: 0, max: ACQUIRE_CONCURRENCY } });
  const observer = knexFactory({ client: 'pg', connection: db.url, pool: { min: 0, max: 1 } });
  try {
    await migrateToLatest(knex);
    const workers = Array.from({ length: WORKERS }, (_, w) => `worker-${w}`);
    const leases = new Map<string, Array<{ sessionId: string; token: string }>>(workers.map((w) => [w, []]));

    // A fleet's first start: every lease taken once.
    let before = await stats(observer, db.name);
    let started = performance.now();
    const limit = pLimit(ACQUIRE_CONCURRENCY);
    await Promise.all(
      workers.flatMap((workerId, w) =>
        Array.from({ length: PER_WORKER }, (_, s) =>
          limit(async () => {
            const sessionId = `s${w}_${s}`;
            const result = await acquireLease(knex, { sessionId, workspaceId: `ws${w % 10}`, workerId, ttlSeconds: TTL_SECONDS });
            if (!result.acquired) throw new Error(`${sessionId} not acquired`);
            leases.get(workerId)!.push({ sessionId, token: result.token });
          }),
        ),
      ),
    );
    const acquireWall = performance.now() - started;
    const acquire = diff(await stats(observer, db.name), before);

    // Renewal rounds: one statement per worker.
    const roundTimes: number[] = [];
    const statementTimes: number[] = [];
    before = await stats(observer, db.name);
    for (let round = 0; round < ROUNDS; round++) {
      const roundStart = performance.now();
      for (const workerId of workers) {
        const statementStart = performance.now();
        const renewed = await renewLeases(knex, workerId, leases.get(workerId)!, TTL_SECONDS);
        statementTimes.push(performance.now() - statementStart);
        if (renewed.size !== PER_WORKER) throw new Error(`${workerId}: ${renewed.size} of ${PER_WORKER} renewed`);
      }
      roundTimes.push(performance.now() - roundStart);
    }
    const batched = diff(await stats(observer, db.name), before);

    // Row by row, one round, for the ratio.
    before = await stats(observer, db.name);
    started = performance.now();
    for (const workerId of workers) {
      for (const lease of leases.get(workerId)!) {
        await knex.raw(
          `update whatsapp_session_leases set expires_at = now() + make_interval(secs => ?), renewed_at = now()
           where session_id = ? and worker_id = ? and token = ? and expires_at > now()`,
          [TTL_SECONDS, lease.sessionId, workerId, lease.token],
        );
      }
    }
    const rowByRowWall = performance.now() - started;
    const rowByRow = diff(await stats(observer, db.name), before);

    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const statementsPerRound = WORKERS;
    const pgMsPerStatement = batched.activeMs / (ROUNDS * statementsPerRound);
    const statementsPerMinute = WORKERS * RENEWALS_PER_MINUTE_PER_WORKER;
    const lines = [
      `leases: ${WORKERS} workers x ${PER_WORKER} sessions = ${WORKERS * PER_WORKER}; lease life ${TTL_SECONDS} s, renewed every ${TTL_SECONDS / 3} s`,
      `acquire all (${ACQUIRE_CONCURRENCY} at a time): ${ms(acquireWall)} wall, ${Math.round((WORKERS * PER_WORKER) / (acquireWall / 1000))} statements/s; Postgres active ${ms(acquire.activeMs)}`,
      `renewal round (${statementsPerRound} statements, one per worker): median ${ms(median(roundTimes))} wall, min ${ms(Math.min(...roundTimes))}; one statement (${PER_WORKER} leases): median ${ms(median(statementTimes))}`,
      `  throughput: ${Math.round(statementsPerRound / (median(roundTimes) / 1000))} statements/s, ${Math.round((WORKERS * PER_WORKER) / (median(roundTimes) / 1000))} leases renewed/s from one connection`,
      `  Postgres active time: ${ms(batched.activeMs)} over ${ROUNDS} rounds = ${pgMsPerStatement.toFixed(3)} ms per statement (${batched.commits} commits)`,
      `row by row (one UPDATE per lease, one round): ${ms(rowByRowWall)} wall; Postgres active ${ms(rowByRow.activeMs)} (${rowByRow.commits} commits)`,
      `  batched vs row by row, one round: ${(rowByRowWall / median(roundTimes)).toFixed(1)}x less wall time, ${(rowByRow.activeMs / (batched.activeMs / ROUNDS)).toFixed(1)}x less Postgres time`,
      `per minute at ${TTL_SECONDS} s leases: ${statementsPerMinute} renewal statements, ~${ms(statementsPerMinute * pgMsPerStatement)} of Postgres time (${((statementsPerMinute * pgMsPerStatement) / 600).toFixed(3)}% of one core)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await knex.destroy();
    await observer.destroy();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`lease bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
