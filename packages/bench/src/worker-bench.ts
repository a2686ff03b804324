/**
 * `npm run bench:worker`: 10 sessions paired against the simulator, the worker SIGKILLed and
 * started again; measures the time to the first and to all sessions connected, /health latency
 * while the restore runs, private memory per session, and GET /api/sessions throughput.
 *
 * Runs the browser the worker picks by itself and, as the reference in the same run, Debian's full
 * Chromium in the new headless mode (when installed; BENCH_NO_REFERENCE=1 skips it).
 *
 * The floor, also in the same run: one saved session restored by the worker's own driver
 * (whatsapp-web.js + the same Chromium, flags and profile) inside this already-warm process, with
 * nothing else running: create to `ready`. No worker start, no other session, no HTTP. The time to
 * the first session connected cannot go below it.
 *
 * Options (environment): BENCH_SESSIONS (10), WHATSAPP_RESTORE_CONCURRENCY (worker default),
 * BENCH_ROUNDS (restarts measured, 3), BENCH_EXTRA_ARGS (JSON array of extra Chromium arguments, to try flags),
 * BENCH_WORKER_NODE_OPTIONS (NODE_OPTIONS of the worker, e.g. to --require a profiler), BENCH_KEEP_DIR (keep
 * the sessions and logs).
 */
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { findBrowserOnThisMachine } from '@wa-session-sync/worker/dist/browser/discovery';
import { markerArg } from '@wa-session-sync/worker/dist/browser/launch';
import { sandboxOnThisMachine } from '@wa-session-sync/worker/dist/browser/sandbox';
import { WwebjsDriver } from '@wa-session-sync/worker/dist/sessions/wwebjs-driver';
import { startSimulator, type Simulator } from '@wa-session-sync/simulator';
import {
  browserTrees,
  cpuSeconds,
  privateMemory,
  simulatedWorkerEnv,
  sleep,
  startWorker,
  tempDir,
  type WorkerProcess,
} from '@wa-session-sync/test-support';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function startBenchWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const nodeOptions = process.env.BENCH_WORKER_NODE_OPTIONS;
  return startWorker({ env: { ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}), ...env } });
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function pairAll(worker: WorkerProcess, sim: Simulator): Promise<void> {
  for (let i = 0; i < SESSIONS; i++) await worker.api('POST', '/api/sessions', { session_id: `bench${i}`, workspace_id: 'bench' });
  const scanned = new Set<string>();
  const deadline = Date.now() + 180_000;
  for (;;) {
    const list = await worker.sessions();
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

async function measureRestore(env: Record<string, string>, sessionsDir: string): Promise<{ worker: WorkerProcess; round: RestoreRound }> {
  const worker = await startBenchWorker(env);
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
    const list = await worker.sessions();
    const connected = list.filter((s) => s.status === 'connected').length;
    const now = performance.now();
    if (connected > 0 && Number.isNaN(firstAt)) firstAt = now;
    if (connected === SESSIONS) allAt = now;
    if (Date.now() > deadline) throw new Error(`restore did not finish: ${JSON.stringify(list.map((s) => s.status))}`);
    await sleep(20);
  }
  // Every process of each browser, helpers included (they carry no --user-data-dir). CPU of
  // helpers that already exited is not counted.
  const browserCpu = cpuSeconds(browserTrees(sessionsDir));
  const workerCpu = cpuSeconds([worker.pid]); // this worker only: others may run on the machine
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

/**
 * The floor: the first paired session restored by the worker's own driver in this process (warm:
 * whatsapp-web.js and puppeteer already loaded after the first round), alone. Each round launches,
 * waits for `ready`, and closes the browser gracefully (the profile is saved by the close).
 */
async function measureFloor(env: Record<string, string>, sessionsDir: string, rounds: number): Promise<number[]> {
  const browser = await findBrowserOnThisMachine(env.PUPPETEER_EXECUTABLE_PATH);
  const browserArgs = JSON.parse(env.WHATSAPP_WEBJS_BROWSER_ARGS ?? '[]') as string[];
  const driver = new WwebjsDriver({
    browser,
    marker: markerArg(sessionsDir, 'bench'),
    previousMarker: null,
    browserArgs,
    sandbox: sandboxOnThisMachine(browserArgs).enabled,
    webVersionCache: { type: 'none' },
  });
  const times: number[] = [];
  // Round 0 loads whatsapp-web.js and puppeteer into this process: not counted.
  for (let i = 0; i <= rounds; i++) {
    let ready!: () => void;
    let failed!: (error: Error) => void;
    const connected = new Promise<void>((resolve, reject) => {
      ready = resolve;
      failed = reject;
    });
    const ignore = () => undefined;
    const started = performance.now();
    const client = driver.create(
      { workspaceId: 'bench', sessionId: 'bench0', folder: path.join(sessionsDir, 'bench', 'bench0') },
      {
        qr: () => failed(new Error('the floor session asked for a QR: its saved auth was lost')),
        code: ignore,
        authenticated: ignore,
        ready: () => ready(),
        disconnected: (reason) => failed(new Error(`the floor session disconnected: ${reason}`)),
        authFailure: (message) => failed(new Error(`the floor session failed to authenticate: ${message}`)),
        message: ignore,
        browserGone: ignore,
      },
    );
    try {
      await Promise.all([client.initialize(), connected]);
      if (i > 0) times.push(performance.now() - started);
    } finally {
      await client.destroy();
    }
    await sleep(500);
  }
  return times;
}

/** One browser the bench measures, and how the worker is made to pick it. */
interface BenchBrowser {
  label: string;
  env: Record<string, string>;
}

/**
 * The browsers measured side by side in one run (the machine's speed drifts, so a ratio only
 * stands within one run): the one the worker picks by itself, and the full Chromium in the new
 * headless mode as the reference, when it is installed and not the one picked anyway.
 */
function browsersToMeasure(): BenchBrowser[] {
  const configured = process.env.PUPPETEER_EXECUTABLE_PATH;
  const picked: BenchBrowser = { label: configured ? `PUPPETEER_EXECUTABLE_PATH=${configured}` : "the worker's own pick", env: configured ? { PUPPETEER_EXECUTABLE_PATH: configured } : {} };
  const reference = '/usr/bin/chromium';
  if (configured === reference || !existsSync(reference) || process.env.BENCH_NO_REFERENCE) return [picked];
  return [picked, { label: `${reference} (new headless, reference)`, env: { PUPPETEER_EXECUTABLE_PATH: reference } }];
}

interface BrowserResult {
  label: string;
  /** What the worker's log says it launched. */
  picked: string;
  rounds: RestoreRound[];
  /** One session restored alone by the worker's driver in this process, create to ready (ms). */
  floor: number[];
  memoryPerSession: number;
  workerPrivate: number;
  cannon: autocannon.Result | null;
}

function pickedBrowser(logDir: string): string {
  const line = readFileSync(path.join(logDir, 'whatsapp-service.log'), 'utf8').split('\n').find((l) => l.includes('"message":"Browser"'));
  if (!line) return 'unknown';
  const { executablePath, headless } = JSON.parse(line) as { executablePath: string; headless: string | boolean };
  return `${executablePath} (${headless === 'shell' ? 'old headless: a headless shell' : 'new headless'})`;
}

async function benchBrowser(browser: BenchBrowser, sim: Simulator, dir: string, withCannon: boolean): Promise<BrowserResult> {
  const sessionsDir = path.join(dir, 'sessions');
  const logDir = path.join(dir, 'logs');
  const env: Record<string, string> = {
    ...simulatedWorkerEnv(sim, { sessionsDir, logDir, extraChromiumArgs: JSON.parse(process.env.BENCH_EXTRA_ARGS ?? '[]') as string[] }),
    ...(process.env.WHATSAPP_RESTORE_CONCURRENCY ? { WHATSAPP_RESTORE_CONCURRENCY: process.env.WHATSAPP_RESTORE_CONCURRENCY } : {}),
    ...browser.env,
  };
  process.stderr.write(`${browser.label}: pairing ${SESSIONS} sessions...\n`);
  let worker = await startBenchWorker(env);
  const result: BrowserResult = { label: browser.label, picked: 'unknown', rounds: [], floor: [], memoryPerSession: NaN, workerPrivate: NaN, cannon: null };
  try {
    await pairAll(worker, sim);
    result.picked = pickedBrowser(logDir);
    for (let i = 0; i < ROUNDS; i++) {
      // localStorage written less than ~3 s before a SIGKILL can be lost (simulator NOTES, pitfall 4).
      await sleep(4000);
      worker.child.kill('SIGKILL');
      await worker.exited;
      process.stderr.write(`${browser.label}: restore round ${i + 1}/${ROUNDS}...\n`);
      const measured = await measureRestore(env, sessionsDir);
      worker = measured.worker;
      result.rounds.push(measured.round);
    }
    await sleep(4000);
    result.memoryPerSession = privateMemory(browserTrees(sessionsDir)) / SESSIONS;
    result.workerPrivate = privateMemory([worker.pid]);
    if (withCannon) {
      process.stderr.write('autocannon GET /api/sessions...\n');
      result.cannon = await autocannon({ url: `${worker.url}/api/sessions`, headers: { 'x-api-key': worker.apiKey }, connections: 10, duration: 5 });
    }
  } finally {
    await worker.stop(15_000);
  }
  process.stderr.write(`${browser.label}: the floor, one session alone in this process...\n`);
  result.floor = await measureFloor(env, sessionsDir, ROUNDS);
  return result;
}

async function main(): Promise<void> {
  const sim = await startSimulator({ quiet: true });
  const dir = await tempDir('wa-worker-bench-');
  try {
    const browsers = browsersToMeasure();
    // One browser after the other, never two sets of sessions at once (they would share the CPU).
    const results: BrowserResult[] = [];
    for (const [i, browser] of browsers.entries()) {
      results.push(await benchBrowser(browser, sim, path.join(dir, `browser-${i}`), i === 0));
    }

    const ms = (v: number) => `${v.toFixed(0)} ms`;
    const mib = (v: number) => `${(v / 1024 / 1024).toFixed(0)} MiB`;
    const median = (r: BrowserResult, f: (round: RestoreRound) => number) => percentile(r.rounds.map(f), 50);
    const cpuPerSession = (r: BrowserResult) => median(r, (x) => x.cpuSeconds) / SESSIONS;
    const [main, reference] = results as [BrowserResult, BrowserResult | undefined];
    const ratio = (f: (r: BrowserResult) => number) => (reference ? `   ${(f(main) / f(reference)).toFixed(2)}x of the reference` : '');
    const rows: Array<[string, string, string]> = [
      ['sessions', String(SESSIONS), ''],
      ['restore concurrency', process.env.WHATSAPP_RESTORE_CONCURRENCY ?? 'default (2)', ''],
    ];
    for (const r of results) {
      rows.push(
        [`browser: ${r.label}`, r.picked, ''],
        ['  start -> listening (median)', ms(median(r, (x) => x.listenMs)), ''],
        ['  start -> first connected (median)', ms(median(r, (x) => x.firstMs)), r === main ? `target < 600 ms${ratio((b) => median(b, (x) => x.firstMs))}` : ''],
        ['  floor: one session alone, create -> ready (median)', ms(percentile(r.floor, 50)), `no worker start; each: ${r.floor.map((v) => v.toFixed(0)).join(', ')} ms`],
        ['  start -> all connected (median)', ms(median(r, (x) => x.allMs)), r === main ? `target < 3000 ms${ratio((b) => median(b, (x) => x.allMs))}` : ''],
        // All connected cannot come sooner than the restore's CPU spread over every core.
        ['  CPU bound: restore CPU / cores (median)', ms((median(r, (x) => x.cpuSeconds) / os.cpus().length) * 1000), 'all connected cannot be sooner'],
        ['    per round first / all', r.rounds.map((x) => `${x.firstMs.toFixed(0)}/${x.allMs.toFixed(0)}`).join(', '), ''],
        ['  CPU of the restore (worker + Chromium)', `${median(r, (x) => x.cpuSeconds).toFixed(1)} s = ${cpuPerSession(r).toFixed(2)} s per session`, r === main ? `target <= 0.5 s per session${ratio(cpuPerSession)}` : ''],
        ['  /health p50/p99/max during restore, per round', `${r.rounds.map((x) => `${x.healthP50.toFixed(1)}/${x.healthP99.toFixed(1)}/${x.healthMax.toFixed(0)}`).join(', ')} ms`, r === main ? 'target p99 < 25 ms' : ''],
        ['  private memory per session (Chromium)', mib(r.memoryPerSession), r === main ? `target <= 60 MiB${ratio((b) => b.memoryPerSession)}` : ''],
        ['  worker process private memory', mib(r.workerPrivate), ''],
      );
      if (r.cannon) rows.push(['  GET /api/sessions (autocannon 10 conn, 5 s)', `${r.cannon.requests.average.toFixed(0)} req/s, p99 ${r.cannon.latency.p99} ms`, `${r.cannon.non2xx} non-2xx`]);
    }
    rows.push(['machine', `${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`, '']);
    const width = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write('\nwa-worker bench\n');
    for (const [name, value, note] of rows) process.stdout.write(`${name.padEnd(width)}  ${value}${note ? `   (${note})` : ''}\n`);
  } finally {
    await sim.stop();
    if (process.env.BENCH_KEEP_DIR) process.stderr.write(`kept ${dir}\n`);
    else await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
