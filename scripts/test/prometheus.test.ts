import fs from 'node:fs/promises';
import path from 'node:path';
import { knownSeriesNames } from '@wa-session-sync/shared';
import { SCRIPTS_DIR, tempDir } from './support';
import { promtool, promtoolPath } from './promtool';

// deploy/prometheus: the alert rules, their unit tests and the example scrape configuration, each
// checked by Prometheus' own promtool (never skipped: without promtool these tests fail).

jest.setTimeout(30_000);

const DIR = path.resolve(SCRIPTS_DIR, '..', 'deploy', 'prometheus');
const ALERTS = path.join(DIR, 'alerts.yml');
const ALERT_TESTS = path.join(DIR, 'alerts.test.yml');
const CONFIG = path.join(DIR, 'prometheus.yml');

/** The alert names of the metrics spec (docs: /work/wt/briefs/metrics-spec.md, README). */
const ALERT_NAMES = [
  'WaWorkerDown',
  'WaSessionNotConnected',
  'WaSessionReconnectLoop',
  'WaSyncNotSucceeding',
  'WaSyncGivingUp',
  'WaWebhookDropping',
  'WaWebhookBacklog',
  'WaWorkerCapacityNearlyFull',
];

interface Rule {
  alert: string;
  text: string;
}

/** The rules of alerts.yml, each with its own text (from its `- alert:` line to the next). */
function rulesOf(text: string): Rule[] {
  return text
    .split(/\n(?= {6}- alert: )/)
    .slice(1)
    .map((block) => ({ alert: /- alert: (\S+)/.exec(block)![1]!, text: block }));
}

beforeAll(() => {
  promtoolPath(); // throws, failing every test here, when promtool is missing
});

describe('alerts.yml', () => {
  it('passes promtool check rules', async () => {
    const result = await promtool(['check', 'rules', ALERTS]);
    expect(result.output).toContain('SUCCESS: 9 rules found');
    expect(result.code).toBe(0);
  });

  it('passes its unit tests (promtool test rules alerts.test.yml)', async () => {
    const result = await promtool(['test', 'rules', ALERT_TESTS]);
    expect(result.output).toContain('SUCCESS');
    expect(result.output).not.toContain('FAILED');
    expect(result.code).toBe(0);
  });

  it('has exactly the alerts of the spec, each with a severity, a summary, a description and a runbook into the README', async () => {
    const rules = rulesOf(await fs.readFile(ALERTS, 'utf8'));
    expect([...new Set(rules.map((r) => r.alert))].sort()).toEqual([...ALERT_NAMES].sort());
    for (const rule of rules) {
      expect({ alert: rule.alert, severity: /\n {10}severity: (critical|warning)\n/.test(rule.text) }).toEqual({ alert: rule.alert, severity: true });
      for (const annotation of ['summary', 'description']) {
        expect({ alert: rule.alert, annotation, present: new RegExp(`\\n {10}${annotation}: ".+"`).test(rule.text) }).toEqual({ alert: rule.alert, annotation, present: true });
      }
      expect({ alert: rule.alert, runbook: /\n {10}runbook: "README\.md#troubleshooting: .+"/.test(rule.text) }).toEqual({ alert: rule.alert, runbook: true });
    }
  });

  it('names only metrics the worker and the sync export (packages/shared/src/metrics.ts)', async () => {
    const text = await fs.readFile(ALERTS, 'utf8');
    const named = new Set(text.match(/\bwa_(?:worker|sync)_[a-z0-9_]+\b/g));
    const known = knownSeriesNames();
    expect([...named].filter((name) => !known.has(name))).toEqual([]);
    expect(named.size).toBeGreaterThan(8);
  });

  it('tests every alert both firing and not firing', async () => {
    const tests = await fs.readFile(ALERT_TESTS, 'utf8');
    for (const alert of ALERT_NAMES) {
      const cases = [...tests.matchAll(new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:(.*)`, 'g'))].map((m) => m[1]!.trim());
      expect({ alert, firing: cases.some((c) => c === ''), quiet: cases.some((c) => c === '[]') }).toEqual({ alert, firing: true, quiet: true });
    }
  });

  it('the unit tests catch a rule that fires too early', async () => {
    // A copy with WaWorkerDown's `for: 2m` cut to 1m: its unit test must fail.
    const dir = await tempDir();
    try {
      const rules = await fs.readFile(ALERTS, 'utf8');
      const broken = rules.replace(/(alert: WaWorkerDown[\s\S]*?)for: 2m/, '$1for: 1m');
      expect(broken).not.toBe(rules);
      await fs.writeFile(path.join(dir, 'alerts.yml'), broken);
      await fs.copyFile(ALERT_TESTS, path.join(dir, 'alerts.test.yml'));
      const result = await promtool(['test', 'rules', path.join(dir, 'alerts.test.yml')]);
      expect(result.code).not.toBe(0);
      expect(result.output).toContain('alertname: WaWorkerDown, time: 3m');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('prometheus.yml', () => {
  it('passes promtool check config, with the rules it loads, once the worker\'s token file exists', async () => {
    // As installed: prometheus.yml and alerts.yml side by side, the token in a file readable by Prometheus alone.
    const dir = await tempDir();
    try {
      await fs.copyFile(CONFIG, path.join(dir, 'prometheus.yml'));
      await fs.copyFile(ALERTS, path.join(dir, 'alerts.yml'));
      const missing = await promtool(['check', 'config', path.join(dir, 'prometheus.yml')]);
      expect(missing.code).not.toBe(0);
      expect(missing.output).toContain('wa-worker-metrics-token');

      await fs.writeFile(path.join(dir, 'wa-worker-metrics-token'), 'a-metrics-token-for-the-test\n', { mode: 0o600 });
      const result = await promtool(['check', 'config', path.join(dir, 'prometheus.yml')]);
      expect(result.output).toContain('is valid prometheus config file syntax');
      expect(result.output).toContain('SUCCESS: 9 rules found');
      expect(result.code).toBe(0);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('scrapes the worker as the job WaWorkerDown watches, with a bearer token from a file, and node_exporter for the sync', async () => {
    const config = await fs.readFile(CONFIG, 'utf8');
    const worker = /- job_name: wa-worker\n([\s\S]*?)(?=\n {2}(?:#|- job_name)|$)/.exec(config)?.[1] ?? '';
    expect(worker).toContain('metrics_path: /metrics');
    expect(worker).toMatch(/authorization:\n\s+type: Bearer\n\s+credentials_file: \S+/);
    expect(worker).not.toMatch(/\bcredentials: /); // never the token itself in the file
    expect(config).toContain('- job_name: node');
    expect(await fs.readFile(ALERTS, 'utf8')).toContain('up{job="wa-worker"} == 0');
  });
});
