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
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { startSimulator, type Simulator } from '@wa-session-sync/simulator';
import {
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
  const browserCpu = cpuSeconds(`--user-data-dir=${sessionsDir}`);
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

async function main(): Promise<void> {
  const sim = await startSimulator({ quiet: true });
  const dir = await tempDir('wa-worker-bench-');
  const sessionsDir = path.join(dir, 'sessions');
  const env: Record<string, string> = {
    ...simulatedWorkerEnv(sim, {
      sessionsDir,
      logDir: path.join(dir, 'logs'),
      extraChromiumArgs: JSON.parse(process.env.BENCH_EXTRA_ARGS ?? '[]') as string[],
    }),
    ...(process.env.WHATSAPP_RESTORE_CONCURRENCY ? { WHATSAPP_RESTORE_CONCURRENCY: process.env.WHATSAPP_RESTORE_CONCURRENCY } : {}),
  };
  let worker: WorkerProcess | null = null;
  try {
    process.stderr.write(`pairing ${SESSIONS} sessions...\n`);
    worker = await startBenchWorker(env);
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
        workerPrivate = privateMemory([worker.pid]);
      }
    }

    process.stderr.write('autocannon GET /api/sessions...\n');
    const cannon = await autocannon({
      url: `${worker.url}/api/sessions`,
      headers: { 'x-api-key': worker.apiKey },
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
    await worker?.stop(15_000);
    await sim.stop();
    if (process.env.BENCH_KEEP_DIR) process.stderr.write(`kept ${dir}\n`);
    else await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
