import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createTestDatabase, runCli, startWorker, type TestDatabase, type WorkerProcess } from '@wa-session-sync/test-support';
import { metricNamesIn } from './promql';
import { SCRIPTS_DIR, tempDir } from './support';

// Every metric the Grafana dashboard and the alert rules name is really exported: the worker's by
// a scrape of the built worker's GET /metrics, the sync's by the file the built wa-sync writes
// (WA_SYNC_METRICS_FILE) after a real run against that worker and a real Postgres. The shared
// list (packages/shared/src/metrics.ts) checks the names on paper; this checks them on the wire.

jest.setTimeout(60_000);

const DEPLOY = path.resolve(SCRIPTS_DIR, '..', 'deploy');
const API_KEY = `names-key-${randomBytes(8).toString('hex')}`;

/** Every PromQL expression in the dashboard: each `expr` anywhere in it, and each query variable's selector. */
function dashboardExpressions(dashboard: unknown): string[] {
  const found: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (key === 'expr' && typeof inner === 'string') found.push(inner);
        else walk(inner);
      }
    }
  };
  walk(dashboard);
  const variables = (dashboard as { templating: { list: { type: string; query: string | { query: string } }[] } }).templating.list;
  for (const variable of variables.filter((v) => v.type === 'query')) {
    const query = typeof variable.query === 'string' ? variable.query : variable.query.query;
    found.push(/^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$/.exec(query)?.[1] ?? query);
  }
  return found;
}

/**
 * Every `expr:` of a Prometheus rules file, inline or a folded block (`expr: >-` and the lines
 * indented below it). Read by hand: the project has no YAML parser of its own, and promtool
 * (prometheus.test.ts) checks the file's syntax.
 */
export function ruleExpressions(yaml: string): string[] {
  const lines = yaml.split('\n');
  const found: string[] = [];
  lines.forEach((line, i) => {
    const match = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!match) return;
    if (!/^[>|]-?$/.test(match[2]!)) {
      found.push(match[2]!);
      return;
    }
    const body: string[] = [];
    for (const next of lines.slice(i + 1)) {
      if (next.trim() !== '' && next.search(/\S/) <= match[1]!.length) break;
      body.push(next.trim());
    }
    found.push(body.join(' '));
  });
  return found;
}

/** The series names a Prometheus text exposition carries: each `# TYPE` family, a histogram's as `_bucket`, `_sum`, `_count`. */
function exposedSeries(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    else names.add(name!);
  }
  return names;
}

describe('the names the dashboard and the alerts use, against what the worker and the sync really export', () => {
  let dir: string;
  let database: TestDatabase;
  let worker: WorkerProcess;
  let exported: Set<string>;

  beforeAll(async () => {
    dir = await tempDir();
    database = await createTestDatabase({ prefix: 'wa_metric_names' });
    worker = await startWorker({
      apiKey: API_KEY,
      env: { HOME: dir, WHATSAPP_SESSIONS_DIR: path.join(dir, 'sessions'), LOG_DIR: path.join(dir, 'logs'), WHATSAPP_MAX_SESSIONS: '3' },
    });
    const scrape = await fetch(`${worker.url}/metrics`, { headers: { 'x-api-key': API_KEY } });
    expect(scrape.status).toBe(200);
    const metricsFile = path.join(dir, 'wa_sync.prom');
    const env = {
      WHATSAPP_NODE_API_KEY: API_KEY,
      WHATSAPP_NODE_SERVICE_URL: worker.url,
      DATABASE_URL: database.url,
      WA_SYNC_METRICS_FILE: metricsFile,
      WA_SYNC_AUDIT_LOG: path.join(dir, 'logs', 'wa-sync-audit.log'),
    };
    expect(await runCli(['migrate'], env)).toMatchObject({ code: 0 });
    expect(await runCli(['sync-sessions'], env)).toMatchObject({ code: 0 });
    exported = new Set([...exposedSeries(await scrape.text()), ...exposedSeries(await fs.readFile(metricsFile, 'utf8'))]);
  });

  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await database?.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('reads the expressions it checks (a parser that found nothing would pass anything)', async () => {
    const rules = ruleExpressions(await fs.readFile(path.join(DEPLOY, 'prometheus', 'alerts.yml'), 'utf8'));
    expect(rules.length).toBe(9);
    expect(rules.flatMap(metricNamesIn)).toContain('wa_worker_session_up');
    expect(exported.has('wa_worker_launch_duration_seconds_bucket')).toBe(true);
    expect(exported.has('wa_sync_last_run_given_up')).toBe(true);
    expect(exported.has('wa_worker_nothing')).toBe(false);
  });

  it('every metric the Grafana dashboard queries is in the scrape or the sync file', async () => {
    const dashboard = JSON.parse(await fs.readFile(path.join(DEPLOY, 'grafana', 'wa-session-sync.json'), 'utf8'));
    const names = new Set(dashboardExpressions(dashboard).flatMap(metricNamesIn));
    expect(names.size).toBeGreaterThan(10);
    expect([...names].filter((name) => !exported.has(name))).toEqual([]);
  });

  it('every metric an alert rule names is in the scrape or the sync file (`up` is Prometheus\' own)', async () => {
    const rules = ruleExpressions(await fs.readFile(path.join(DEPLOY, 'prometheus', 'alerts.yml'), 'utf8'));
    const names = new Set(rules.flatMap(metricNamesIn));
    expect([...names].filter((name) => name !== 'up' && !exported.has(name))).toEqual([]);
  });
});
