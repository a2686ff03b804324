/**
 * `npm run bench:worker`: 10 sessions paired against the simulator, the worker SIGKILLed and
 * started again; measures the time to the first and to all sessions connected, /health latency
 * while the restore runs, private memory per session, and GET /api/sessions throughput.
 *
 * Options (environment): BENCH_SESSIONS (10), WHATSAPP_RESTORE_CONCURRENCY (worker default),
 * BENCH_ROUNDS (restarts measured, 3), BENCH_EXTRA_ARGS (JSON array of extra Chromium arguments, to try flags),
 * BENCH_WORKER_NODE_OPTIONS (NODE_OPTIONS of the worker, e.g. to --require a profiler), BENCH_KEEP_DIR (keep
 * the sessions and logs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { startSimulator, type Simulator } from '@wa-session-sync/simulator';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const API_KEY = 'bench-key';
const WORKER_BIN = path.join(__dirname, '..', 'main.js');

interface Worker {
  child: ChildProcess;
  url: string;
  spawnedAt: number;
  listeningAt: number;
  exited: Promise<void>;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function startWorker(env: Record<string, string>): Promise<Worker> {
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [WORKER_BIN], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      WHATSAPP_NODE_API_KEY: API_KEY,
      ...(process.env.BENCH_WORKER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = /"message":"wa-worker listening","port":(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`worker exited ${code}`)));
  });
  const listeningAt = performance.now();
  child.stdout!.resume();
  return { child, url: `http://127.0.0.1:${port}`, spawnedAt, listeningAt, exited };
}

async function api(worker: Worker, method: string, route: string, body?: object): Promise<any> {
  const response = await fetch(worker.url + route, {
    method,
    headers: { 'x-api-key': API_KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return response.json();
}

async function statuses(worker: Worker): Promise<Array<{ session_id: string; status: string; qr: string | null }>> {
  return (await api(worker, 'GET', '/api/sessions')).sessions;
}

/** Sum of `measure(pid)` over every process whose command line mentions `text` (gone ones skipped). */
function sumOverProcesses(text: string, measure: (pid: string) => number): number {
  let total = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) total += measure(entry);
    } catch {
      // gone
    }
  }
  return total;
}

/** Private memory (Private_Clean + Private_Dirty) of every process whose command line mentions `text`, in bytes. */
function privateMemory(text: string): number {
  return sumOverProcesses(text, (pid) => {
    const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    let bytes = 0;
    for (const match of rollup.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) bytes += Number(match[1]) * 1024;
    return bytes;
  });
}

/** CPU seconds (user + system) used so far by every process whose command line mentions `text`. */
function cpuSeconds(text: string): number {
  const ticks = 100; // USER_HZ on Linux
  return sumOverProcesses(text, (pid) => {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticks;
  });
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function pairAll(worker: Worker, sim: Simulator): Promise<void> {
  for (let i = 0; i < SESSIONS; i++) await api(worker, 'POST', '/api/sessions', { session_id: `bench${i}`, workspace_id: 'bench' });
  const scanned = new Set<string>();
  const deadline = Date.now() + 180_000;
  for (;;) {
    const list = await statuses(worker);
    for (const s of list) {
      if (s.status === 'qr_scanning' && s.qr && !scanned.has(s.session_id)) {
        scanned.add(s.session_id);
        sim.scan(s.qr, `62811${String(Number(s.session_id.slice(5))).padStart(7, '0')}`);
      }
    }
    if (list.length === SESSIONS && list.every((s) => s.status === 'connected')) return;
    if (Date.now() > deadline) throw new Error(`pairing did not finish: ${JSON.stringify(list.map((s) => s.status))}`);
    await sleep(100);
  }
}

interface RestoreRound {
  /** CPU seconds the new worker and its browsers used from start to all connected. */
  cpuSeconds: number;
  firstMs: number;
  allMs: number;
  listenMs: number;
  healthP50: number;
  healthP99: number;
  healthMax: number;
  healthCount: number;
}

async function measureRestore(env: Record<string, string>, sessionsDir: string): Promise<{ worker: Worker; round: RestoreRound }> {
  const worker = await startWorker(env);
  const health: number[] = [];
  let done = false;
  const healthLoop = (async () => {
    while (!done) {
      const started = performance.now();
      const response = await fetch(`${worker.url}/health`);
      await response.arrayBuffer();
      health.push(performance.now() - started);
      await sleep(10);
    }
  })();
  let firstAt = NaN;
  let allAt = NaN;
  const deadline = Date.now() + 120_000;
  while (Number.isNaN(allAt)) {
    const list = await statuses(worker);
    const connected = list.filter((s) => s.status === 'connected').length;
    const now = performance.now();
    if (connected > 0 && Number.isNaN(firstAt)) firstAt = now;
    if (connected === SESSIONS) allAt = now;
    if (Date.now() > deadline) throw new Error(`restore did not finish: ${JSON.stringify(list.map((s) => s.status))}`);
    await sleep(20);
  }
  const browserCpu = cpuSeconds(`--user-data-dir=${sessionsDir}`);
  const workerCpu = cpuSeconds(WORKER_BIN);
  const cpu = browserCpu + workerCpu;
  process.stderr.write(`  cpu: browsers ${browserCpu.toFixed(1)} s, worker ${workerCpu.toFixed(1)} s\n`);
  done = true;
  await healthLoop;
  return {
    worker,
    round: {
      cpuSeconds: cpu,
      firstMs: firstAt - worker.spawnedAt,
      allMs: allAt - worker.spawnedAt,
      listenMs: worker.listeningAt - worker.spawnedAt,
      healthP50: percentile(health, 50),
      healthP99: percentile(health, 99),
      healthMax: Math.max(...health),
      healthCount: health.length,
    },
  };
}

async function main(): Promise<void> {
  const sim = await startSimulator({ quiet: true });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wa-worker-bench-'));
  const sessionsDir = path.join(dir, 'sessions');
  const env: Record<string, string> = {
    WHATSAPP_SESSIONS_DIR: sessionsDir,
    LOG_DIR: path.join(dir, 'logs'),
    WHATSAPP_WEBJS_BROWSER_ARGS: JSON.stringify([...sim.chromiumArgs(), ...(JSON.parse(process.env.BENCH_EXTRA_ARGS ?? '[]') as string[])]),
    WHATSAPP_WEBJS_WEB_VERSION_CACHE: 'none',
    ...(process.env.WHATSAPP_RESTORE_CONCURRENCY ? { WHATSAPP_RESTORE_CONCURRENCY: process.env.WHATSAPP_RESTORE_CONCURRENCY } : {}),
    ...(process.env.PUPPETEER_EXECUTABLE_PATH ? { PUPPETEER_EXECUTABLE_PATH: process.env.PUPPETEER_EXECUTABLE_PATH } : {}),
  };
  let worker: Worker | null = null;
  try {
    process.stderr.write(`pairing ${SESSIONS} sessions...\n`);
    worker = await startWorker(env);
    await pairAll(worker, sim);
    // localStorage written less than ~3 s before a SIGKILL can be lost (simulator NOTES, pitfall 4).
    await sleep(4000);

    const rounds: RestoreRound[] = [];
    let memoryPerSession = NaN;
    let workerPrivate = NaN;
    for (let i = 0; i < ROUNDS; i++) {
      worker.child.kill('SIGKILL');
      await worker.exited;
      process.stderr.write(`restore round ${i + 1}/${ROUNDS}...\n`);
      const measured = await measureRestore(env, sessionsDir);
      worker = measured.worker;
      rounds.push(measured.round);
      await sleep(4000);
      if (i === ROUNDS - 1) {
        memoryPerSession = privateMemory(`--user-data-dir=${sessionsDir}`) / SESSIONS;
        workerPrivate = privateMemory(WORKER_BIN);
      }
    }

    process.stderr.write('autocannon GET /api/sessions...\n');
    const cannon = await autocannon({
      url: `${worker.url}/api/sessions`,
      headers: { 'x-api-key': API_KEY },
      connections: 10,
      duration: 5,
    });

    const ms = (v: number) => `${v.toFixed(0)} ms`;
    const mib = (v: number) => `${(v / 1024 / 1024).toFixed(0)} MiB`;
    const median = (f: (r: RestoreRound) => number) => percentile(rounds.map(f), 50);
    const rows: Array<[string, string, string]> = [
      ['sessions', String(SESSIONS), ''],
      ['restore concurrency', process.env.WHATSAPP_RESTORE_CONCURRENCY ?? 'default (2)', ''],
      ['start -> listening (median)', ms(median((r) => r.listenMs)), ''],
      ['start -> first connected (median)', ms(median((r) => r.firstMs)), 'target < 1000 ms'],
      ['start -> all connected (median)', ms(median((r) => r.allMs)), 'target < 6500 ms'],
      ['  per round first / all', rounds.map((r) => `${r.firstMs.toFixed(0)}/${r.allMs.toFixed(0)}`).join(', '), ''],
      ['CPU used by the restore (worker + Chromium)', `${median((r) => r.cpuSeconds).toFixed(1)} s = ${(median((r) => r.cpuSeconds) / SESSIONS).toFixed(2)} s per session`, `${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`],
      ['/health p50/p99/max during restore, per round', `${rounds.map((r) => `${r.healthP50.toFixed(1)}/${r.healthP99.toFixed(1)}/${r.healthMax.toFixed(0)}`).join(', ')} ms`, 'target p99 < 50 ms'],
      ['private memory per session (Chromium)', mib(memoryPerSession), 'target <= 150 MB'],
      ['worker process private memory', mib(workerPrivate), ''],
      ['GET /api/sessions (autocannon 10 conn, 5 s)', `${cannon.requests.average.toFixed(0)} req/s, p99 ${cannon.latency.p99} ms`, `${cannon.non2xx} non-2xx`],
    ];
    const width = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write('\nwa-worker bench\n');
    for (const [name, value, note] of rows) process.stdout.write(`${name.padEnd(width)}  ${value}${note ? `   (${note})` : ''}\n`);
  } finally {
    if (worker && worker.child.exitCode === null) {
      worker.child.kill('SIGTERM');
      await Promise.race([worker.exited, sleep(15_000)]);
    }
    await sim.stop();
    if (process.env.BENCH_KEEP_DIR) process.stderr.write(`kept ${dir}\n`);
    else await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
