/**
 * `npm run bench:auth`: what saving and restoring a session's WhatsApp login costs
 * (`packages/worker/src/auth/snapshot.ts`), database included. For each profile:
 *
 * - its origin storage (files, bytes on disk) and the snapshot's size (tar+gzip);
 * - snapshot: `snapshotProfile` of the stopped profile; restore: `restoreProfile` into a fresh folder;
 * - Postgres: an INSERT of the snapshot as `bytea` and a SELECT of it back, each its own round trip
 *   on a warm connection, into a temporary table;
 * - save = snapshot + insert, restore = select + restore: what a worker pays per session.
 * Times are medians of BENCH_AUTH_RUNS (7) runs, the minimum beside them.
 *
 * Profiles: one paired on the simulator's page by real whatsapp-web.js in real Chromium (the
 * worker's own driver; ready, left 4 s to write its storage, then stopped), and synthetic ones at
 * the sizes real accounts are reported at (BENCH_AUTH_SYNTHETIC_MB, default "20,50": LevelDB-like
 * 2 MiB tables, half random bytes as Chromium's snappy-compressed blocks are, half repeated text).
 *
 * Postgres: DATABASE_URL when set (only a temporary table is made in it), else a database of its
 * own made and dropped on BENCH_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { restoreProfile, snapshotProfile, type Snapshot } from '@wa-session-sync/worker/dist/auth/snapshot';
import { findBrowserOnThisMachine } from '@wa-session-sync/worker/dist/browser/discovery';
import { markerArg } from '@wa-session-sync/worker/dist/browser/launch';
import { sandboxOnThisMachine } from '@wa-session-sync/worker/dist/browser/sandbox';
import { WwebjsDriver } from '@wa-session-sync/worker/dist/sessions/wwebjs-driver';
import { startSimulator } from '@wa-session-sync/simulator';
import { createTestDatabase, DEFAULT_PG_ADMIN_URL, sleep, tempDir, type TestDatabase } from '@wa-session-sync/test-support';

const RUNS = Number(process.env.BENCH_AUTH_RUNS) || 7;
const SYNTHETIC_MB = (process.env.BENCH_AUTH_SYNTHETIC_MB ?? '20,50').split(',').filter(Boolean).map(Number);
const ADMIN_URL = process.env.BENCH_ADMIN_URL || DEFAULT_PG_ADMIN_URL;
/** Far above any profile here: the bench measures, the cap is the worker's business. */
const MAX_BYTES = 1024 * 1024 * 1024;
const IDB = 'Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb';
const LOCAL = 'Default/Local Storage/leveldb';

interface Row {
  profile: string;
  files: number;
  diskBytes: number;
  snapshotBytes: number;
  snapshotMs: number[];
  restoreMs: number[];
  insertMs: number[];
  selectMs: number[];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const min = (values: number[]) => Math.min(...values);

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await work();
  return [result, performance.now() - started];
}

/** Pairs one session on the simulator with the worker's driver and stops it; its profile is `<folder>/session`. */
async function pairedOnSimulator(root: string): Promise<string> {
  const simulator = await startSimulator({ quiet: true });
  try {
    const browserArgs = simulator.chromiumArgs();
    const driver = new WwebjsDriver({
      browser: await findBrowserOnThisMachine(process.env.PUPPETEER_EXECUTABLE_PATH || undefined),
      marker: markerArg(root, 'auth-bench'),
      previousMarker: null,
      browserArgs,
      sandbox: sandboxOnThisMachine(browserArgs).enabled,
      webVersionCache: { type: 'none' },
    });
    const folder = path.join(root, 'simulator', 'w1', 's1');
    let onQr!: (qr: string) => void;
    let onReady!: () => void;
    const qr = new Promise<string>((resolve) => (onQr = resolve));
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    const ignore = () => undefined;
    const client = driver.create(
      { workspaceId: 'w1', sessionId: 's1', folder },
      { qr: (shown) => onQr(shown), code: ignore, authenticated: ignore, ready: () => onReady(), disconnected: ignore, authFailure: ignore, message: ignore, browserGone: ignore },
    );
    try {
      await client.initialize();
      simulator.scan(await qr, '6281400000001');
      await ready;
      await sleep(4_000); // as the worker will: a snapshot once the page has written its storage
    } finally {
      await client.destroy().catch(() => undefined);
      await client.kill();
    }
    return path.join(folder, 'session');
  } finally {
    await simulator.stop();
  }
}

/** A profile whose origin storage is about `megabytes` MiB of LevelDB-like files. */
async function syntheticProfile(root: string, megabytes: number): Promise<string> {
  const profile = path.join(root, `synthetic-${megabytes}`, 'session');
  const table = 2 * 1024 * 1024;
  const text = Buffer.from('{"id":"false_6281234567890@c.us_3EB0C767D26A3D4E","t":1767225600,"type":"chat","ack":3},'.repeat(64));
  await fs.mkdir(path.join(profile, IDB), { recursive: true });
  await fs.mkdir(path.join(profile, LOCAL), { recursive: true });
  let written = 0;
  for (let i = 5; written < megabytes * 1024 * 1024; i += 1) {
    const blocks: Buffer[] = [];
    for (let size = 0; size < table; size += 8192) blocks.push(randomBytes(4096), text.subarray(0, 4096));
    await fs.writeFile(path.join(profile, IDB, `${String(i).padStart(6, '0')}.ldb`), Buffer.concat(blocks));
    written += table;
  }
  await fs.writeFile(path.join(profile, IDB, 'CURRENT'), 'MANIFEST-000004\n');
  await fs.writeFile(path.join(profile, IDB, 'MANIFEST-000004'), randomBytes(4096));
  await fs.writeFile(path.join(profile, IDB, '000003.log'), randomBytes(64 * 1024));
  await fs.writeFile(path.join(profile, LOCAL, 'CURRENT'), 'MANIFEST-000001\n');
  await fs.writeFile(path.join(profile, LOCAL, '000003.log'), randomBytes(16 * 1024));
  return profile;
}

async function diskBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && !['LOCK', 'LOG', 'LOG.old'].includes(entry.name)) total += (await fs.stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

async function measure(name: string, profile: string, db: Client, root: string): Promise<Row> {
  const row: Row = { profile: name, files: 0, diskBytes: 0, snapshotBytes: 0, snapshotMs: [], restoreMs: [], insertMs: [], selectMs: [] };
  for (const storage of [IDB, LOCAL]) row.diskBytes += await diskBytes(path.join(profile, storage)).catch(() => 0);
  let snapshot: Snapshot | null = null;
  // Run 0 warms the page cache and this process's code: not counted.
  for (let run = 0; run <= RUNS; run += 1) {
    const [taken, snapshotMs] = await timed(() => snapshotProfile(profile, { maxBytes: MAX_BYTES }));
    snapshot = taken!;
    const id = `${name}-${run}`;
    const [, insertMs] = await timed(() => db.query('INSERT INTO bench_auth (session_id, data, sha256) VALUES ($1, $2, $3)', [id, snapshot!.data, snapshot!.sha256]));
    const [selected, selectMs] = await timed(() => db.query<{ data: Buffer }>('SELECT data FROM bench_auth WHERE session_id = $1', [id]));
    const fresh = path.join(root, 'restored', `${name}-${run}`, 'session');
    const [, restoreMs] = await timed(() => restoreProfile(fresh, selected.rows[0]!.data));
    await fs.rm(path.dirname(fresh), { recursive: true });
    if (run === 0) continue;
    row.snapshotMs.push(snapshotMs);
    row.insertMs.push(insertMs);
    row.selectMs.push(selectMs);
    row.restoreMs.push(restoreMs);
  }
  row.files = snapshot!.files;
  row.snapshotBytes = snapshot!.sizeBytes;
  return row;
}

function print(rows: Row[]): void {
  const ms = (values: number[]) => `${median(values).toFixed(1)} (${min(values).toFixed(1)})`;
  const sum = (a: number[], b: number[]) => a.map((value, i) => value + b[i]!);
  const table = [
    ['profile', 'files', 'on disk', 'snapshot', 'snapshot ms', 'insert ms', 'save ms', 'select ms', 'restore ms', 'restore total ms'],
    ...rows.map((row) => [
      row.profile,
      String(row.files),
      bytes(row.diskBytes),
      bytes(row.snapshotBytes),
      ms(row.snapshotMs),
      ms(row.insertMs),
      ms(sum(row.snapshotMs, row.insertMs)),
      ms(row.selectMs),
      ms(row.restoreMs),
      ms(sum(row.selectMs, row.restoreMs)),
    ]),
  ];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((line) => line[column]!.length)));
  for (const line of table) console.log(`  ${line.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')}`);
  console.log(`  ms: median of ${RUNS} runs (minimum); save = snapshot + insert, restore total = select + restore`);
}

function bytes(n: number): string {
  if (n < 10 * 1024) return `${n} B`;
  if (n < 10 * 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

async function main(): Promise<void> {
  const root = await tempDir('wa-auth-bench-');
  let database: TestDatabase | undefined;
  let db: Client;
  if (process.env.DATABASE_URL) {
    db = new Client({ connectionString: process.env.DATABASE_URL });
    await db.connect();
  } else {
    database = await createTestDatabase({ prefix: 'wa_auth_bench', adminUrl: ADMIN_URL });
    db = database.client;
  }
  try {
    await db.query('CREATE TEMP TABLE bench_auth (session_id text PRIMARY KEY, data bytea NOT NULL, sha256 text NOT NULL)');
    const profiles: [string, string][] = [['simulator page', await pairedOnSimulator(root)]];
    for (const megabytes of SYNTHETIC_MB) profiles.push([`synthetic ${megabytes} MiB`, await syntheticProfile(root, megabytes)]);
    const rows: Row[] = [];
    for (const [name, profile] of profiles) rows.push(await measure(name.replace(/ /g, '-'), profile, db, root));
    console.log(`auth snapshot bench: ${RUNS} runs each, Postgres ${database ? `database ${database.name}` : 'DATABASE_URL'}, node ${process.version}`);
    print(rows.map((row, i) => ({ ...row, profile: profiles[i]![0] })));
  } finally {
    if (database) await database.drop();
    else await db.end();
    await fs.rm(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
