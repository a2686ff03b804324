/**
 * `npm run bench:sync`: 10,000 active accounts in 10 workspaces, a worker stand-in reporting
 * 10,000 sessions of which 1,000 disagree with the database. Prints, in one run:
 *
 * - sync: `wa-sync sync-sessions --json` as a child process (median of RUNS runs): its own
 *   connect-to-close time (`duration_ms`), the process wall time, and its peak RSS;
 * - row by row: the same work done as the seed's PHP command does it, one request
 *   (`GET /api/sessions/:id`) and one UPDATE (autocommit) per account;
 * - floor: one SELECT of the accounts, one `GET /api/sessions` and one batched UPDATE of the
 *   1,000 changed rows, each timed alone on warm connections, summed.
 * - process floor: the same three as whole processes (`psql`, `curl`, `psql`) plus a bare
 *   `node -e 0`, against the CLI's whole-process wall time;
 * - `wa-sync --help` against `node -e 0`, whole processes, BENCH_HELP_RUNS (21) each, interleaved.
 *
 * Sizes: BENCH_ACCOUNTS (10,000), BENCH_WORKSPACES (10), BENCH_DISAGREE (a tenth);
 * BENCH_ROW_BY_ROW=0 skips the row-by-row comparison; BENCH_RUNS (7). BENCH_COMPARE=<another
 * build's entry (its packages/cli/bin/wa-sync.js; this build's dist/bin.js is the CLI unbundled)>
 * runs that build too, interleaved with this one on the same data, so a change is measured
 * against what came before in one run of a noisy machine.
 *
 * Needs Postgres (BENCH_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres); makes
 * and drops its own database.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client } from 'pg';
import { Agent, request } from 'undici';
import knexFactory from 'knex';
// The CLI's database modules alone: the floor times the database work, not the rest of the CLI.
import { readActiveAccounts, writeAccounts, type AccountWrite } from '@wa-session-sync/cli/dist/db/accounts';
import { migrateToLatest } from '@wa-session-sync/shared/dist/db/migrations';
import { CLI_BIN, createTestDatabase, DEFAULT_PG_ADMIN_URL, runCli, spawnProcess, startLocalServer, tempDir, type LocalServer } from '@wa-session-sync/test-support';

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS) || 10_000;
const WORKSPACES = Number(process.env.BENCH_WORKSPACES) || 10;
const DISAGREE = Number(process.env.BENCH_DISAGREE) || ACCOUNTS / 10;
/** `0` skips the row-by-row comparison (minutes at 100,000 accounts). */
const ROW_BY_ROW = process.env.BENCH_ROW_BY_ROW !== '0';
/** Sync runs and floor measurements, interleaved; medians are reported, minima alongside. */
const RUNS = Number(process.env.BENCH_RUNS) || 7;
const API_KEY = 'bench-key';
const ADMIN_URL = process.env.BENCH_ADMIN_URL || DEFAULT_PG_ADMIN_URL;
/** Another build of the CLI (its entry file), run side by side with this one. */
const COMPARE = process.env.BENCH_COMPARE ? path.resolve(process.env.BENCH_COMPARE) : undefined;

const TARGETS = { speedupVsRowByRow: 20, ratioToFloor: 2, peakRssMb: 150, wallToProcessFloor: ACCOUNTS > 10_000 ? 1.5 : 1.3, helpToNode: 1.5 };
/** `wa-sync --help` and `node -e 0`, each this many times, interleaved. */
const HELP_RUNS = Number(process.env.BENCH_HELP_RUNS) || 21;

interface SessionEntry {
  session_id: string;
  workspace_id: string;
  status: string;
  phone_number: string;
  updated_at: string;
  reason: null;
}

/** Session i: every 10th disagrees (half: DB connected, worker failed; half: the reverse). */
function sessionFor(i: number): { db: string; worker: string; entry: SessionEntry } {
  const disagrees = i % (ACCOUNTS / DISAGREE) === 0;
  const flip = (i / (ACCOUNTS / DISAGREE)) % 2 === 0;
  const db = disagrees && !flip ? 'disconnected' : 'connected';
  const worker = disagrees && flip ? 'failed' : 'connected';
  return {
    db,
    worker,
    entry: {
      session_id: `bench_${i}`,
      workspace_id: String(i % WORKSPACES),
      status: worker,
      phone_number: `62811${String(i).padStart(6, '0')}`,
      updated_at: '2026-01-01T00:00:00.000Z',
      reason: null,
    },
  };
}

const sessions = Array.from({ length: ACCOUNTS }, (_, i) => sessionFor(i));
const sessionsBody = JSON.stringify({ sessions: sessions.map((s) => s.entry) });
const byId = new Map(sessions.map((s) => [s.entry.session_id, JSON.stringify(s.entry)]));
const healthBody = JSON.stringify({
  status: 'ok',
  uptime: 1390,
  sessions: { total: ACCOUNTS, connected: sessions.filter((s) => s.worker === 'connected').length, by_status: {} },
  memory: {},
  version: 'bench',
});

async function startWorkerStandIn(): Promise<LocalServer> {
  const standIn = await startLocalServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    const url = req.url ?? '';
    if (url === '/health') return void res.end(healthBody);
    if (url === '/api/sessions') return void res.end(sessionsBody);
    const one = byId.get(decodeURIComponent(url.slice('/api/sessions/'.length)));
    if (one) return void res.end(one);
    res.statusCode = 404;
    res.end('{"error":{"code":"NOT_FOUND","message":"unknown"}}');
  });
  standIn.server.keepAliveTimeout = 60_000;
  return standIn;
}

async function seed(client: Client): Promise<void> {
  await client.query('TRUNCATE whatsapp_accounts RESTART IDENTITY');
  await client.query(
    `INSERT INTO whatsapp_accounts (workspace_id, session_id, phone_number, status, metadata)
     SELECT (i % ${WORKSPACES})::text, 'bench_' || i, '62811' || lpad(i::text, 6, '0'),
            CASE WHEN i % ${ACCOUNTS / DISAGREE} = 0 AND (i / ${ACCOUNTS / DISAGREE}) % 2 = 1 THEN 'disconnected' ELSE 'connected' END,
            jsonb_build_object('created_by', 'bench', 'plan', 'pro')
       FROM generate_series(0, ${ACCOUNTS - 1}) AS i`,
  );
  await client.query('VACUUM ANALYZE whatsapp_accounts');
}

async function countDisagreeing(client: Client): Promise<number> {
  const { rows } = await client.query(`SELECT status, session_id FROM whatsapp_accounts`);
  const expected = new Map(sessions.map((s) => [s.entry.session_id, s.worker]));
  return rows.filter((row) => expected.get(row.session_id) !== row.status).length;
}

interface CliRun {
  durationMs: number;
  wallMs: number;
  peakRssMb: number;
  mismatches: number;
  phases: Record<string, number>;
}

async function syncRun(env: Record<string, string>, bin?: string): Promise<CliRun> {
  const args = ['sync-sessions', '--json'];
  const started = performance.now();
  const { code, stdout, stderr } = bin
    ? await spawnProcess(process.execPath, [bin, ...args], { env: { ...process.env, ...env, WA_SYNC_REPORT_MAX_RSS: '1' } }).done
    : await runCli(args, { ...env, WA_SYNC_REPORT_MAX_RSS: '1' }, { baseEnv: process.env });
  const wallMs = performance.now() - started;
  if (code !== 0) throw new Error(`wa-sync exited ${code}: ${stderr}`);
  const report = JSON.parse(stdout) as {
    duration_ms: number;
    timings_ms: Record<string, number>;
    summary: { mismatches: number };
  };
  const rss = /peak RSS ([\d.]+) MB/.exec(stderr);
  return {
    durationMs: report.duration_ms,
    wallMs,
    peakRssMb: rss ? Number(rss[1]) : Number.NaN,
    mismatches: report.summary.mismatches,
    phases: report.timings_ms,
  };
}

/** What the seed's PHP command does: per account one request and one UPDATE. */
async function rowByRow(client: Client, workerUrl: string, dispatcher: Agent): Promise<number> {
  const started = performance.now();
  const { rows } = await client.query(
    `SELECT id, session_id, status FROM whatsapp_accounts
      WHERE is_active AND deleted_at IS NULL AND provider_type = 'webjs' ORDER BY id`,
  );
  for (const row of rows) {
    const response = await request(`${workerUrl}/api/sessions/${encodeURIComponent(row.session_id)}`, {
      headers: { 'x-api-key': API_KEY },
      dispatcher,
    });
    const session = (await response.body.json()) as SessionEntry;
    const patch = session.status === row.status ? {} : { auto_disconnected_at: new Date().toISOString(), reason: 'bench' };
    await client.query(
      'UPDATE whatsapp_accounts SET status = $1, metadata = metadata || $2::jsonb, updated_at = now() WHERE id = $3',
      [session.status, JSON.stringify(patch), row.id],
    );
  }
  return performance.now() - started;
}

interface Floor {
  selectMs: number;
  getMs: number;
  updateMs: number;
}

/**
 * The three operations a sync cannot avoid, each timed alone on connections that are already
 * open (and an HTTP client already initialised).
 */
async function floor(url: string, workerUrl: string, dispatcher: Agent): Promise<Floor> {
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 1, max: 1 } });
  try {
    await knex.raw('select 1');
    await (await request(`${workerUrl}/health`, { dispatcher })).body.text();
    let t = performance.now();
    const accounts = await readActiveAccounts(knex, undefined);
    const selectMs = performance.now() - t;

    t = performance.now();
    const response = await request(`${workerUrl}/api/sessions`, { headers: { 'x-api-key': API_KEY }, dispatcher });
    const body = (await response.body.json()) as { sessions: SessionEntry[] };
    const getMs = performance.now() - t;

    const observed = new Map(body.sessions.map((s) => [s.session_id, s.status]));
    const writes: AccountWrite[] = accounts
      .filter((a) => observed.get(a.session_id) !== a.status)
      .map((a) => ({ id: a.id, version: a.version, status: observed.get(a.session_id) as AccountWrite['status'], phone_number: null, patch: { reason: 'floor' } }));
    if (writes.length !== DISAGREE) throw new Error(`expected ${DISAGREE} disagreeing rows, found ${writes.length}`);
    t = performance.now();
    await knex.transaction((trx) => writeAccounts(trx, writes, new Date()));
    const updateMs = performance.now() - t;
    return { selectMs, getMs, updateMs };
  } finally {
    await knex.destroy();
  }
}

/**
 * The floor measured in a fresh node process, like the CLI: its JavaScript runs as cold as the
 * CLI's, so the comparison is about work done, not about V8 having warmed up in the bench.
 */
async function floorInFreshProcess(url: string, workerUrl: string): Promise<Floor> {
  const { code, stdout, stderr } = await spawnProcess(process.execPath, [__filename, '--floor', url, workerUrl], { env: process.env }).done;
  if (code !== 0) throw new Error(`floor process exited ${code}: ${stderr}`);
  return JSON.parse(stdout) as Floor;
}

/** Wall time of one whole process, in ms; fails on a non-zero exit. */
async function timed(command: string, args: string[]): Promise<number> {
  const started = performance.now();
  const { code, stderr } = await spawnProcess(command, args, { env: process.env }).done;
  if (code !== 0) throw new Error(`${command} exited ${code}: ${stderr}`);
  return performance.now() - started;
}

/**
 * The floor's UPDATE as a psql script: the disagreeing rows (after the seed the ids follow the
 * sessions' order: RESTART IDENTITY, generate_series from 0) in a JSON file that psql reads itself,
 * one statement like the CLI's.
 */
async function writeUpdateScript(dir: string): Promise<string> {
  const rows = sessions.flatMap((s, i) => (s.db !== s.worker ? [{ id: i + 1, status: s.worker, patch: { reason: 'floor' } }] : []));
  const json = path.join(dir, 'floor-rows.json');
  const script = path.join(dir, 'floor-update.sql');
  await fs.writeFile(json, JSON.stringify(rows));
  await fs.writeFile(
    script,
    `\\set rows \`cat ${json}\`\nUPDATE whatsapp_accounts a SET status = r.status, updated_at = now(), metadata = a.metadata || r.patch FROM jsonb_to_recordset(:'rows'::jsonb) AS r(id bigint, status text, patch jsonb) WHERE a.id = r.id;\n`,
  );
  return script;
}

interface ProcessFloor {
  selectMs: number;
  getMs: number;
  updateMs: number;
  nodeMs: number;
}

/**
 * The floor of a whole sync done by the tools an operator has at hand, each a process of its own:
 * `psql` reading the accounts, `curl` fetching the worker's sessions, one batched `psql` UPDATE of
 * the disagreeing rows, and a bare `node -e 0` start (the CLI is a Node process). Compared with
 * the CLI's whole-process wall time.
 */
async function processFloor(url: string, workerUrl: string, updateScript: string): Promise<ProcessFloor> {
  const selectMs = await timed('psql', [
    url,
    '-Atqc',
    "SELECT id, xmin, workspace_id, session_id, status, phone_number, metadata FROM whatsapp_accounts WHERE is_active AND deleted_at IS NULL AND provider_type = 'webjs'",
    '-o',
    '/dev/null',
  ]);
  const getMs = await timed('curl', ['-sf', '-o', '/dev/null', '-H', `x-api-key: ${API_KEY}`, `${workerUrl}/api/sessions`]);
  const updateMs = await timed('psql', [url, '-q', '-f', updateScript]);
  const nodeMs = await timed(process.execPath, ['-e', '0']);
  return { selectMs, getMs, updateMs, nodeMs };
}

/**
 * `wa-sync --help` (the installed bin, as an operator types it) against a bare `node -e 0`, whole
 * processes interleaved: what a start that runs no command costs above Node's own start.
 */
async function helpAgainstNode(): Promise<{ helpMs: number; nodeMs: number }> {
  const help: number[] = [];
  const node: number[] = [];
  for (let i = 0; i < HELP_RUNS; i++) {
    help.push(await timed(process.execPath, [CLI_BIN, '--help']));
    node.push(await timed(process.execPath, ['-e', '0']));
  }
  return { helpMs: median(help), nodeMs: median(node) };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ms = (value: number) => `${value.toFixed(1)} ms`;

async function main(): Promise<void> {
  const db = await createTestDatabase({ prefix: 'wa_sync_bench', adminUrl: ADMIN_URL });
  const { url, client } = db;
  const standIn = await startWorkerStandIn();
  const workerUrl = standIn.url;
  const dispatcher = new Agent({ connections: 4 });
  const tmp = await tempDir('wa-sync-bench-');
  try {
    const knex = knexFactory({ client: 'pg', connection: url });
    await migrateToLatest(knex);
    await knex.destroy();

    await seed(client);
    if ((await countDisagreeing(client)) !== DISAGREE) throw new Error('seed does not have the expected disagreements');

    const env = {
      DATABASE_URL: url,
      WHATSAPP_NODE_SERVICE_URL: workerUrl,
      WHATSAPP_NODE_API_KEY: API_KEY,
      WA_SYNC_AUDIT_LOG: path.join(tmp, 'audit.log'),
    };
    // Interleaved, so that a busy moment on the machine hits both sides alike.
    const floors: Floor[] = [];
    const warmFloors: Floor[] = [];
    const runs: CliRun[] = [];
    const compared: CliRun[] = [];
    const processFloors: ProcessFloor[] = [];
    const updateScript = await writeUpdateScript(tmp);
    for (let i = 0; i < RUNS; i++) {
      await seed(client);
      processFloors.push(await processFloor(url, workerUrl, updateScript));
      if ((await countDisagreeing(client)) !== 0) throw new Error('the process floor left rows disagreeing with the worker');
      await seed(client);
      floors.push(await floorInFreshProcess(url, workerUrl));
      await seed(client);
      warmFloors.push(await floor(url, workerUrl, dispatcher));
      await seed(client);
      const run = await syncRun(env);
      if (run.mismatches !== DISAGREE) throw new Error(`the sync found ${run.mismatches} mismatches, expected ${DISAGREE}`);
      if ((await countDisagreeing(client)) !== 0) throw new Error('the sync left rows disagreeing with the worker');
      runs.push(run);
      if (COMPARE) {
        await seed(client);
        const other = await syncRun(env, COMPARE);
        if (other.mismatches !== DISAGREE) throw new Error(`${COMPARE} found ${other.mismatches} mismatches, expected ${DISAGREE}`);
        compared.push(other);
      }
    }
    const help = await helpAgainstNode();
    const total = (f: Floor) => f.selectMs + f.getMs + f.updateMs;
    const floorParts = {
      selectMs: median(floors.map((f) => f.selectMs)),
      getMs: median(floors.map((f) => f.getMs)),
      updateMs: median(floors.map((f) => f.updateMs)),
    };
    const floorMs = median(floors.map(total));
    const warmFloorMs = median(warmFloors.map(total));

    let rowByRowMs = Number.NaN;
    if (ROW_BY_ROW) {
      await seed(client);
      rowByRowMs = await rowByRow(client, workerUrl, dispatcher);
      if ((await countDisagreeing(client)) !== 0) throw new Error('row by row left rows disagreeing with the worker');
    }
    const processTotal = (f: ProcessFloor) => f.selectMs + f.getMs + f.updateMs + f.nodeMs;
    const processFloorMs = median(processFloors.map(processTotal));
    const processParts = (['selectMs', 'getMs', 'updateMs', 'nodeMs'] as const).map((k) => median(processFloors.map((f) => f[k])));

    const syncMs = median(runs.map((r) => r.durationMs));
    const syncMin = Math.min(...runs.map((r) => r.durationMs));
    const floorMin = Math.min(...floors.map(total));
    const wallMs = median(runs.map((r) => r.wallMs));
    const peakRss = Math.max(...runs.map((r) => r.peakRssMb));
    const speedup = rowByRowMs / syncMs;
    const toFloor = syncMs / floorMs;
    const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');
    const helpRatio = help.helpMs / help.nodeMs;
    const rows: [string, string, string][] = [
      [`wa-sync --help / node -e 0 (medians of ${HELP_RUNS}, interleaved)`, `${helpRatio.toFixed(2)}x`, `${ms(help.helpMs)} / ${ms(help.nodeMs)}; target <= ${TARGETS.helpToNode}x: ${verdict(helpRatio <= TARGETS.helpToNode)}`],
      ['sync (wa-sync, connect to close, median)', ms(syncMs), `fastest run ${ms(syncMin)}`],
      ['sync (wa-sync process wall time, median)', ms(wallMs), 'includes node start and module loading'],
      ['process floor (psql SELECT + curl GET + psql UPDATE + node -e 0)', ms(processFloorMs), `parts ${processParts.map(ms).join(' + ')}`],
      ['sync process / process floor (medians)', `${(wallMs / processFloorMs).toFixed(2)}x`, `target <= ${TARGETS.wallToProcessFloor}x: ${verdict(wallMs / processFloorMs <= TARGETS.wallToProcessFloor)}`],
      ...(ROW_BY_ROW
        ? ([
            ['row by row (1 request + 1 UPDATE per account)', ms(rowByRowMs), ''],
            ['speed-up vs row by row', `${speedup.toFixed(1)}x`, `target >= ${TARGETS.speedupVsRowByRow}x: ${verdict(speedup >= TARGETS.speedupVsRowByRow)}`],
          ] as [string, string, string][])
        : []),
      ['floor (SELECT + GET + batched UPDATE, fresh process)', ms(floorMs), `fastest ${ms(floorMin)}; parts ${ms(floorParts.selectMs)} + ${ms(floorParts.getMs)} + ${ms(floorParts.updateMs)}`],
      ['floor (same, in the warmed-up bench process)', ms(warmFloorMs), 'for reference'],
      ['sync / floor (medians)', `${toFloor.toFixed(2)}x`, `target <= ${TARGETS.ratioToFloor}x: ${verdict(toFloor <= TARGETS.ratioToFloor)}; fastest/fastest ${(syncMin / floorMin).toFixed(2)}x`],
      ['peak RSS of the wa-sync process', `${peakRss.toFixed(1)} MB`, `target < ${TARGETS.peakRssMb} MB: ${verdict(peakRss < TARGETS.peakRssMb)}`],
      ...(COMPARE
        ? ([
            ['BENCH_COMPARE build: process wall time (median)', ms(median(compared.map((r) => r.wallMs))), `${(median(compared.map((r) => r.wallMs)) / processFloorMs).toFixed(2)}x the process floor; ${COMPARE}`],
            ['BENCH_COMPARE build: connect to close (median)', ms(median(compared.map((r) => r.durationMs))), ''],
            ['BENCH_COMPARE build: peak RSS', `${Math.max(...compared.map((r) => r.peakRssMb)).toFixed(1)} MB`, ''],
          ] as [string, string, string][])
        : []),
    ];
    const width = Math.max(...rows.map((r) => r[0].length));
    const valueWidth = Math.max(...rows.map((r) => r[1].length));
    console.log(`wa-sync bench: ${ACCOUNTS} accounts in ${WORKSPACES} workspaces, ${DISAGREE} disagreeing, ${RUNS} sync runs`);
    for (const [label, value, note] of rows) console.log(`  ${label.padEnd(width)}  ${value.padStart(valueWidth)}  ${note}`);
    const phases = Object.keys(runs[0].phases).map((phase) => `${phase} ${median(runs.map((r) => r.phases[phase] ?? 0))}`);
    console.log(`  sync phases (median ms): ${phases.join(', ')}`);
    console.log(`  each sync run (ms): ${runs.map((r) => r.durationMs).join(', ')}; each fresh floor (ms): ${floors.map((f) => total(f).toFixed(0)).join(', ')}`);
    console.log(
      `  each sync process (ms): ${runs.map((r) => r.wallMs.toFixed(0)).join(', ')}; each process floor (ms): ${processFloors.map((f) => processTotal(f).toFixed(0)).join(', ')}` +
        (COMPARE ? `; each BENCH_COMPARE process (ms): ${compared.map((r) => r.wallMs.toFixed(0)).join(', ')}` : ''),
    );
    const slowest = runs.reduce((a, b) => (b.durationMs > a.durationMs ? b : a));
    console.log(`  slowest sync run phases (ms): ${JSON.stringify(slowest.phases)}`);
  } finally {
    await standIn.close();
    await dispatcher.close();
    await db.drop().catch(() => undefined);
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function floorChild(url: string, workerUrl: string): Promise<void> {
  const dispatcher = new Agent({ connections: 1 });
  try {
    process.stdout.write(JSON.stringify(await floor(url, workerUrl, dispatcher)));
  } finally {
    await dispatcher.close();
  }
}

const [mode, ...rest] = process.argv.slice(2);
(mode === '--floor' ? floorChild(rest[0], rest[1]) : main()).catch((error) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
