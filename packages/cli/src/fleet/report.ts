import type { ChalkInstance } from 'chalk';
import { escapeUnprintable } from '../sync/report';
import type { Decision, Plan, WorkerPlan, WorkerVerdict } from './placement';

// A fleet plan as the report's lines and as the `--json` object: the worker table, then every
// decision that changes or holds something, each with its reason. Pure: the caller prints.

/** One worker in `--json`. */
export interface WorkerJson {
  worker_id: string;
  url: string;
  verdict: WorkerVerdict;
  draining: boolean;
  /** As the worker reported it; `null` if it did not answer. */
  capacity: { max: number | null; used: number } | null;
  sessions: number;
  free: number | null;
  assigned: number;
}

/** One decision in `--json`; `from` only on a move, `until` only on a wait for a lease. */
export interface MoveJson {
  session_id: string;
  action: Decision['action'];
  from?: string;
  worker_id: string | null;
  reason: Decision['reason'];
  until?: string;
}

export interface FleetJson {
  all_down: boolean;
  workers: WorkerJson[];
  /** Every decision but a session kept where it runs and is recorded (at 10,000 sessions, that is most of them). */
  moves: MoveJson[];
  summary: { kept: number; started: number; moved: number; waiting: number; stopped: number; duplicates: number };
}

/** The plan as `--json` fields. JSON escapes what the workers and the database said; nothing else is needed. */
export function fleetJson(plan: Plan): FleetJson {
  return {
    all_down: plan.allDown,
    workers: plan.workers.map((w) => ({
      worker_id: w.workerId,
      url: w.url,
      verdict: w.verdict,
      draining: w.draining,
      capacity: w.capacity,
      sessions: w.sessions,
      free: w.free,
      assigned: w.assigned,
    })),
    moves: plan.decisions.filter(isNews).map((d) => ({
      session_id: d.sessionId,
      action: d.action,
      ...(d.action === 'move' ? { from: d.from } : {}),
      worker_id: d.workerId,
      reason: d.reason,
      ...(d.action === 'wait' && d.until ? { until: d.until } : {}),
    })),
    summary: summarize(plan.decisions),
  };
}

/**
 * The plan as report lines, in the style of the sync's report: colour only when asked, and every
 * id escaped first (worker and session ids come from the workers and the accounts table).
 */
export function renderFleetReport(plan: Plan, options: { color: boolean }): string[] {
  const { Chalk } = require('chalk') as typeof import('chalk');
  const c = new Chalk({ level: options.color ? 1 : 0 });
  const lines: string[] = [];
  const out = (line = '') => lines.push(line);

  const healthy = plan.workers.filter((w) => w.verdict === 'healthy').length;
  out(c.bold(`🛰️  Fleet: ${plan.workers.length} worker${plan.workers.length === 1 ? '' : 's'}, ${healthy} healthy`));
  for (const line of workerTable(plan.workers, c)) out(`   ${line}`);
  out();
  if (plan.allDown) {
    out(c.red('❌ No worker answered: nothing is started or moved (the run exits 1)'));
    out();
  }

  const duplicates = plan.decisions.filter((d) => d.reason === 'duplicate');
  if (duplicates.length > 0) {
    out(c.red.bold('🚨 Sessions running on more than one worker (a double login):'));
    for (const d of duplicates) out(`   ${c.red(`${escapeUnprintable(d.sessionId)}: ${describeDecision(d)}`)}`);
    out();
  }
  const changes = plan.decisions.filter((d) => isNews(d) && d.reason !== 'duplicate');
  if (changes.length > 0) {
    out(c.bold('🔀 Placement:'));
    for (const d of changes) out(`   ${colourOf(d, c)(`${escapeUnprintable(d.sessionId)}: ${describeDecision(d)}`)}`);
    out();
  }

  const s = summarize(plan.decisions);
  out(`   Sessions kept: ${s.kept}, started: ${s.started}, moved: ${s.moved}, waiting: ${s.waiting}`);
  if (s.duplicates > 0) out(c.red(`   Duplicates: ${s.duplicates} (copies stopped: ${s.stopped})`));
  return lines;
}

function workerTable(workers: readonly WorkerPlan[], c: ChalkInstance): string[] {
  const rows = workers.map((w) => [
    escapeUnprintable(w.workerId),
    w.verdict + (w.draining && w.verdict !== 'draining' ? ' (draining)' : ''),
    w.capacity ? `${w.capacity.used}/${w.capacity.max ?? '∞'}` : '-',
    w.capacity ? String(w.sessions) : '-',
    w.free === null ? (w.capacity ? '∞' : '-') : String(w.free),
    w.assigned > 0 ? `+${w.assigned}` : '0',
    escapeUnprintable(w.url),
  ]);
  const header = ['WORKER', 'VERDICT', 'CAPACITY', 'SESSIONS', 'FREE', 'PLACED', 'URL'];
  // No icons in the table: their terminal width varies (an emoji with a variation selector), and
  // the columns would not line up. The verdict's colour carries it.
  const width = (text: string) => [...text].length;
  const widths = header.map((title, i) => Math.max(width(title), ...rows.map((row) => width(row[i]))));
  const pad = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(widths[i] - width(cell)))).join('  ');
  return [
    c.dim(pad(header)),
    ...rows.map((row, i) => {
      const line = pad(row);
      return verdictColour(workers[i].verdict, c)(line);
    }),
  ];
}

function verdictColour(verdict: WorkerVerdict, c: ChalkInstance): (text: string) => string {
  switch (verdict) {
    case 'healthy':
      return c.green;
    case 'dead':
      return c.red;
    default:
      return c.yellow;
  }
}

function colourOf(d: Decision, c: ChalkInstance): (text: string) => string {
  switch (d.action) {
    case 'start':
      return c.green;
    case 'move':
      return c.cyan;
    case 'wait':
      return c.yellow;
    case 'stop':
      return c.red;
    default:
      return (text) => text;
  }
}

/** One decision in words, ids escaped. */
export function describeDecision(d: Decision): string {
  const id = (workerId: string | null) => (workerId === null ? 'no worker' : escapeUnprintable(workerId));
  switch (d.action) {
    case 'keep':
      if (d.reason === 'duplicate') return `keep on ${id(d.workerId)} (this copy stays: it holds the lease, or is the recorded one)`;
      if (d.reason === 'found_elsewhere') return `runs on ${id(d.workerId)}, not on its recorded worker: recorded there, never started twice`;
      return `keep on ${id(d.workerId)}`;
    case 'stop':
      return `stop on ${id(d.workerId)} (a second copy: without logging out, or both copies lose the login)`;
    case 'start':
      return `start on ${id(d.workerId)} (${START_REASON[d.reason]})`;
    case 'move':
      return `move ${id(d.from)} → ${id(d.workerId)} (${d.reason === 'draining' ? `${id(d.from)} is draining` : `${id(d.from)} is dead`})`;
    case 'wait':
      switch (d.reason) {
        case 'lease_held':
          return `wait: ${id(d.workerId)} holds its lease until ${d.until ?? 'unknown'}; it moves once the lease lapses`;
        case 'worker_unreachable':
          return `wait: ${id(d.workerId)} did not answer this run (it may still run it: nothing moves until it is dead)`;
        case 'no_capacity':
          return `wait: no healthy worker has room${d.workerId ? ` (still on ${id(d.workerId)})` : ''}; add a worker or raise WHATSAPP_MAX_SESSIONS`;
        case 'all_down':
          return 'wait: no worker answered';
      }
  }
}

const START_REASON: Record<Extract<Decision, { action: 'start' }>['reason'], string> = {
  new: 'new: the healthy worker with the most room',
  recorded_worker: 'its recorded worker',
  lease_holder: 'the worker holding its lease',
  recorded_worker_full: 'its recorded worker is full',
  recorded_worker_draining: 'its recorded worker is draining',
  recorded_worker_unknown: 'its recorded worker is not in the fleet',
};

/** Everything but a session kept where it runs and is recorded. */
function isNews(d: Decision): boolean {
  return !(d.action === 'keep' && d.reason === 'running');
}

function summarize(decisions: readonly Decision[]): FleetJson['summary'] {
  const count = (action: Decision['action']) => decisions.filter((d) => d.action === action).length;
  return {
    kept: count('keep'),
    started: count('start'),
    moved: count('move'),
    waiting: count('wait'),
    stopped: count('stop'),
    duplicates: new Set(decisions.filter((d) => d.reason === 'duplicate').map((d) => d.sessionId)).size,
  };
}

/**
 * The lines a fleet's run adds before the sync's report: the plan ({@link renderFleetReport}),
 * then the workers that did not answer and what each request to a worker came to.
 */
export function renderFleetRun(
  plan: Plan,
  run: { unreachable: ReadonlyArray<{ url: string; error: string }>; requests: ReadonlyArray<{ session_id: string; action: string; worker_id: string; from?: string; result: string; error?: string }>; workers_recorded: number },
  options: { color: boolean },
): string[] {
  const { Chalk } = require('chalk') as typeof import('chalk');
  const c = new Chalk({ level: options.color ? 1 : 0 });
  const lines = renderFleetReport(plan, options);
  if (run.unreachable.length > 0) {
    lines.push(c.yellow('📵 Workers that did not answer:'));
    for (const w of run.unreachable) lines.push(`   ${escapeUnprintable(w.url)}: ${escapeUnprintable(w.error)}`);
  }
  if (run.requests.length > 0) {
    lines.push(c.bold('📨 Requests:'));
    for (const r of run.requests) {
      const where = r.from ? `${escapeUnprintable(r.from)} → ${escapeUnprintable(r.worker_id)}` : escapeUnprintable(r.worker_id);
      const error = r.error ? `: ${escapeUnprintable(r.error)}` : '';
      lines.push(`   ${escapeUnprintable(r.session_id)}: ${r.action} on ${where}: ${REQUEST_RESULT[r.result] ?? r.result}${error}`);
    }
  }
  lines.push(`   Rows given their worker: ${run.workers_recorded}`);
  lines.push('');
  return lines;
}

const REQUEST_RESULT: Record<string, string> = {
  done: 'done',
  failed: 'failed',
  lease_wait: 'waits: the old worker still holds its lease (the next run tries again)',
  planned: 'planned (dry run)',
  not_started: 'not started this run (without --auto-reconnect, backed off or given up)',
  left_to_drain: 'left to `wa-sync drain`, which moves one session at a time',
};
