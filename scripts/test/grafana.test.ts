import fs from 'node:fs/promises';
import path from 'node:path';
import { knownSeriesNames } from '@wa-session-sync/shared';
import { promtool, promtoolPath } from './promtool';
import { metricNamesIn } from './promql';
import { SCRIPTS_DIR, tempDir } from './support';

// deploy/grafana/wa-session-sync.json: every query is valid PromQL (promtool parses each one) and
// names only metrics the worker and the sync export (packages/shared/src/metrics.ts). The same
// names against a real scrape of the worker and a real sync's file: metric-names.integration.test.ts.

jest.setTimeout(30_000);

const DASHBOARD = path.resolve(SCRIPTS_DIR, '..', 'deploy', 'grafana', 'wa-session-sync.json');

/** Grafana's `label_values(<selector>, <label>)` variable query: the selector; any other query as it is. */
function variableExpression(query: string): string {
  return /^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$/.exec(query)?.[1] ?? query;
}

/** Grafana's variables replaced by values PromQL can parse: ranges become durations, the rest a regex. */
function withVariablesFilled(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?[a-zA-Z_]+\}?/g, '.*');
}

interface Query {
  where: string;
  expr: string;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string; datasource?: { uid: string } }[];
  panels?: Panel[];
}

let dashboard: { uid: string; title: string; panels: Panel[]; templating: { list: { name: string; type: string; query: string | { query: string } }[] } };

/** Every panel, those inside rows included. */
function allPanels(): Panel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/** Every PromQL expression of the dashboard: each panel's targets and each query variable's selector. */
function allQueries(): Query[] {
  const queries: Query[] = [];
  for (const panel of allPanels()) {
    for (const target of panel.targets ?? []) queries.push({ where: `${panel.title} ${target.refId}`, expr: target.expr });
  }
  for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
    const query = typeof variable.query === 'string' ? variable.query : variable.query.query;
    queries.push({ where: `variable ${variable.name}`, expr: variableExpression(query) });
  }
  return queries;
}

beforeAll(async () => {
  dashboard = JSON.parse(await fs.readFile(DASHBOARD, 'utf8'));
});

describe('metricNamesIn', () => {
  it.each<[string, string[]]>([
    ['sum by (status) (wa_worker_sessions{instance=~"$instance"})', ['wa_worker_sessions']],
    [
      'histogram_quantile(0.95, sum by (le, kind) (rate(wa_worker_launch_duration_seconds_bucket{instance=~"a|b"}[$__rate_interval])))',
      ['wa_worker_launch_duration_seconds_bucket'],
    ],
    ['count(wa_worker_session_up{x="up"} == 0) or vector(0)', ['wa_worker_session_up']],
    ['time() - max(wa_sync_last_success_timestamp_seconds) > 1e3', ['wa_sync_last_success_timestamp_seconds']],
    ['a_total / on (instance) group_left (version) b_info offset 5m', ['a_total', 'b_info']],
    ['rate(x_total[5m]) * 60 and bool up', ['x_total', 'up']],
  ])('%s', (expr, names) => {
    expect(metricNamesIn(expr)).toEqual(names);
  });
});

describe('the Grafana dashboard', () => {
  it('names only metrics the worker and the sync export', () => {
    const known = knownSeriesNames();
    const unknown = allQueries().flatMap((q) => metricNamesIn(q.expr).filter((name) => !known.has(name)).map((name) => `${q.where}: ${name}`));
    expect(unknown).toEqual([]);
  });

  it('shows what the operator asked for: every topic has a query on its metric', () => {
    const used = new Set(allQueries().flatMap((q) => metricNamesIn(q.expr)));
    for (const metric of [
      'wa_worker_sessions',
      'wa_worker_session_up',
      'wa_worker_session_reconnect_attempts',
      'wa_worker_reconnects_total',
      'wa_worker_probe_failures_total',
      'wa_worker_launch_duration_seconds_bucket',
      'wa_worker_messages_received_total',
      'wa_worker_webhook_deliveries_total',
      'wa_worker_webhook_dropped_total',
      'wa_worker_webhook_queue_events',
      'wa_worker_webhook_queue_bytes',
      'wa_worker_capacity_used_sessions',
      'wa_worker_capacity_max_sessions',
      'wa_sync_last_success_timestamp_seconds',
      'wa_sync_last_run_mismatches',
      'wa_sync_last_run_reconnected',
      'wa_sync_last_run_given_up',
    ]) {
      expect({ metric, used: used.has(metric) }).toEqual({ metric, used: true });
    }
  });

  it('every query is PromQL that promtool parses (as recording rules, Grafana variables filled in)', async () => {
    promtoolPath(); // fails loudly when promtool is missing
    const queries = allQueries();
    const rules = queries.map((q, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(withVariablesFilled(q.expr))}\n`).join('');
    const dir = await tempDir();
    try {
      const file = path.join(dir, 'dashboard-queries.yml');
      await fs.writeFile(file, `groups:\n  - name: dashboard\n    rules:\n${rules}`);
      const result = await promtool(['check', 'rules', file]);
      expect(result.output).toContain(`SUCCESS: ${queries.length} rules found`);
      expect(result.code).toBe(0);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('every panel has a unique id, a title and a description, and asks the Prometheus chosen in its variable', () => {
    const panels = allPanels();
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      expect({ id: panel.id, title: Boolean(panel.title), description: Boolean(panel.description), uid: panel.datasource?.uid }).toEqual({
        id: panel.id,
        title: true,
        description: true,
        uid: '${datasource}',
      });
      expect(panel.targets?.length).toBeGreaterThan(0);
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'instance', 'workspace']);
    expect(dashboard.uid).toBe('wa-session-sync');
  });
});
