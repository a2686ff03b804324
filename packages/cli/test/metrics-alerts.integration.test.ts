import fs from 'node:fs/promises';
import path from 'node:path';
import {
  cleanEnv,
  freePort,
  spawnProcess,
  startLocalServer,
  StopWaiting,
  waitFor,
  type LocalServer,
  type RunningProcess,
} from '@wa-session-sync/test-support';
import { runInProcess, seedAccounts, startSyncWorld, type SyncWorld } from './support';

// From the file to the page: the textfile the installed CLI writes, scraped by a real Prometheus
// (Debian's `prometheus`, which the CI installs for promtool) that evaluates deploy/prometheus/
// alerts.yml. node_exporter's textfile collector is stood in for by a server that answers each
// scrape with the file as it is on disk (what the collector does, minus its own metrics).

jest.setTimeout(60_000);

const ALERTS = path.resolve(__dirname, '..', '..', '..', 'deploy', 'prometheus', 'alerts.yml');

let world: SyncWorld;
let metricsFile: string;
let env: Record<string, string>;
let textfile: LocalServer;
let prometheus: RunningProcess;
let prometheusUrl: string;

interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  value: string;
}

async function alerts(): Promise<Alert[]> {
  if (prometheus.child.exitCode !== null) throw new StopWaiting(`prometheus exited: ${prometheus.output().slice(-2000)}`);
  const response = await fetch(`${prometheusUrl}/api/v1/alerts`);
  return ((await response.json()) as { data: { alerts: Alert[] } }).data.alerts;
}

const firing = async (name: string) => (await alerts()).find((a) => a.labels.alertname === name && a.state === 'firing');

beforeAll(async () => {
  world = await startSyncWorld('wa-sync-alerts-', { migrate: true });
  metricsFile = path.join(world.dir, 'wa_sync.prom');
  env = { ...world.env, WA_SYNC_METRICS_FILE: metricsFile };
  textfile = await startLocalServer((_req, res) => {
    void fs.readFile(metricsFile, 'utf8').then(
      (text) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(text);
      },
      () => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end('');
      },
    );
  });
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  const config = path.join(world.dir, 'prometheus.yml');
  await fs.writeFile(
    config,
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      `rule_files: [${JSON.stringify(ALERTS)}]`,
      'scrape_configs:',
      '  - job_name: node',
      `    static_configs: [{ targets: [${JSON.stringify(new URL(textfile.url).host)}] }]`,
      '',
    ].join('\n'),
  );
  prometheus = spawnProcess(
    'prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${path.join(world.dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { env: cleanEnv() },
  );
  await waitFor(async () => {
    if (prometheus.child.pid === undefined || prometheus.child.exitCode !== null) {
      throw new StopWaiting(`prometheus did not start (Debian: apt-get install prometheus): ${prometheus.output().slice(-2000)}`);
    }
    return (await fetch(`${prometheusUrl}/-/ready`)).ok;
  }, 'prometheus to be ready');
});

afterAll(async () => {
  await prometheus?.stop(5_000);
  await textfile?.close();
  await world?.close();
});

describe('the sync\'s alerts, from the file the CLI writes to a real Prometheus', () => {
  it('a sync failing since its last success an hour ago fires WaSyncNotSucceeding and keeps WaSyncGivingUp; a run that syncs clears both', async () => {
    // What a run that synced an hour ago left: it had given up on two sessions.
    const anHourAgo = Math.round(Date.now() / 1000) - 3600;
    await fs.writeFile(
      metricsFile,
      `wa_sync_last_run_timestamp_seconds ${anHourAgo}\nwa_sync_last_success_timestamp_seconds ${anHourAgo}\nwa_sync_last_run_success 1\nwa_sync_last_run_given_up 2\n`,
    );
    world.worker.health = { status: 503, body: { error: { code: 'worker_stopping', message: 'the worker is stopping' } } };
    expect((await runInProcess(['sync-sessions'], env)).code).toBe(1);

    const stale = await waitFor(() => firing('WaSyncNotSucceeding'), 'WaSyncNotSucceeding to fire');
    expect(stale.labels).toMatchObject({ problem: 'stale', severity: 'critical', job: 'node' });
    expect(Number(stale.value)).toBeGreaterThan(3600);
    const givingUp = await waitFor(() => firing('WaSyncGivingUp'), 'WaSyncGivingUp to fire');
    expect(Number(givingUp.value)).toBe(2);

    world.worker.reset();
    await seedAccounts(world.db.client, []);
    expect((await runInProcess(['sync-sessions'], env)).code).toBe(0);
    await waitFor(
      async () => (await alerts()).every((a) => a.labels.alertname !== 'WaSyncNotSucceeding' && a.labels.alertname !== 'WaSyncGivingUp'),
      'the sync alerts to resolve',
    );
  });
});
