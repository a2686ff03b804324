import type { WorkerSession } from '@wa-session-sync/shared';
import type { WorkerEvent } from './events/bus';
import { WorkerMetrics } from './metrics';
import type { SessionManager } from './sessions/manager';

// The mapping from the bus's events and the manager's sessions to the exported samples, with
// literal fixtures. The real worker's scrape is test/metrics.integration.test.ts.

const at = new Date('2026-12-06T10:00:00Z');
const scoped = { at, session_id: 's1', workspace_id: 'w1' };

function view(session_id: string, status: WorkerSession['status'], extra: Partial<WorkerSession> = {}): WorkerSession {
  return { session_id, workspace_id: 'w1', status, phone_number: null, updated_at: at.toISOString(), reason: null, reconnect_attempts: 0, ...extra };
}

function metricsOver(sessions: WorkerSession[], backlog = { pending: 0, pendingBytes: 0 }, max: number | null = 5) {
  const manager = { list: () => sessions, usage: () => ({ max, used: sessions.length }) } as unknown as SessionManager;
  return new WorkerMetrics({ manager, webhook: backlog, version: '9.9.9', workerId: 'w-a' });
}

/** The non-comment lines of the scrape that start with one of `prefixes`. */
async function lines(metrics: WorkerMetrics, ...prefixes: string[]): Promise<string[]> {
  const { body } = await metrics.text();
  return body.split('\n').filter((l) => !l.startsWith('#') && prefixes.some((p) => l.startsWith(p)));
}

describe('WorkerMetrics', () => {
  it('counts the events of the bus, those published before prom-client loads included', async () => {
    const metrics = metricsOver([]);
    const events: WorkerEvent[] = [
      { ...scoped, type: 'loss', reason: 'CONFLICT', attempts: 1, retry: true },
      { ...scoped, type: 'loss', reason: 'READY_TIMEOUT', attempts: 2, retry: true },
      { ...scoped, type: 'loss', reason: 'NAVIGATION', attempts: 3, retry: false },
      { ...scoped, type: 'loss', reason: 'Protocol error (Runtime.callFunctionOn): Target closed', attempts: 1, retry: true },
      { ...scoped, type: 'alert', kind: 'reconnect_exhausted', reason: 'NAVIGATION', attempts: 3 },
      { ...scoped, type: 'alert', kind: 'qr_timeout', reason: 'QR_TIMEOUT', attempts: 0 },
      { ...scoped, type: 'status', session: view('s1', 'disconnected'), from: 'qr_scanning', to: 'disconnected', reason: 'QR_TIMEOUT' },
      { ...scoped, type: 'status', session: view('s1', 'disconnected'), from: 'connected', to: 'disconnected', reason: 'LOGOUT' },
      { ...scoped, type: 'probe', ok: false, reason: 'PROBE_TIMEOUT' },
      { ...scoped, type: 'probe', ok: true },
      { ...scoped, type: 'probe', ok: false },
      { ...scoped, type: 'launch', kind: 'restore', outcome: 'ready', duration_ms: 1500 },
      { ...scoped, type: 'message', message: {} as never },
      { ...scoped, type: 'message', message: {} as never },
      { type: 'worker', at, state: 'started' },
    ];
    events.slice(0, 5).forEach(metrics.listener); // before the load
    metrics.load();
    events.slice(5).forEach(metrics.listener);
    metrics.webhookOutcome('message', 'retried');
    metrics.webhookOutcome('message', 'failed');
    metrics.webhookOutcome('session.qr', 'dropped');
    metrics.restoreFinished(42_000);

    expect(
      await lines(
        metrics,
        'wa_worker_reconnects',
        'wa_worker_ready_timeouts_total',
        'wa_worker_qr_timeouts_total',
        'wa_worker_alerts_total',
        'wa_worker_probe_failures_total',
        'wa_worker_messages_received_total',
        'wa_worker_webhook_d',
        'wa_worker_launch_duration_seconds_count',
        'wa_worker_launch_duration_seconds_sum',
        'wa_worker_restore_duration_seconds_sum',
      ),
    ).toEqual([
      'wa_worker_reconnects_total{reason="CONFLICT"} 1',
      'wa_worker_reconnects_total{reason="READY_TIMEOUT"} 1',
      'wa_worker_reconnects_total{reason="OTHER"} 1',
      'wa_worker_reconnects_exhausted_total 1',
      'wa_worker_probe_failures_total{reason="PROBE_TIMEOUT"} 1',
      'wa_worker_probe_failures_total{reason="OTHER"} 1',
      'wa_worker_launch_duration_seconds_sum{kind="restore",outcome="ready"} 1.5',
      'wa_worker_launch_duration_seconds_count{kind="restore",outcome="ready"} 1',
      'wa_worker_restore_duration_seconds_sum 42',
      'wa_worker_messages_received_total{workspace_id="w1"} 2',
      'wa_worker_webhook_deliveries_total{event="message",outcome="retried"} 1',
      'wa_worker_webhook_deliveries_total{event="message",outcome="failed"} 1',
      'wa_worker_webhook_dropped_total{event="session.qr"} 1',
      'wa_worker_qr_timeouts_total 1',
      'wa_worker_ready_timeouts_total 1',
      'wa_worker_alerts_total{kind="reconnect_exhausted"} 1',
      'wa_worker_alerts_total{kind="qr_timeout"} 1',
    ]);
  });

  it('reads the gauges at scrape time: every status, one up and attempts series per session meant to run, capacity, backlog', async () => {
    const sessions = [
      view('a', 'connected'),
      view('b', 'reconnecting', { reconnect_attempts: 2 }),
      view('c', 'disconnected', { reason: 'QR_TIMEOUT' }), // saved as stopped: not meant to run
      view('d', 'failed', { reconnect_attempts: 3 }),
    ];
    const metrics = metricsOver(sessions, { pending: 7, pendingBytes: 2048 });
    expect(await lines(metrics, 'wa_worker_info', 'wa_worker_session', 'wa_worker_capacity', 'wa_worker_webhook_queue')).toEqual([
      'wa_worker_info{version="9.9.9",worker_id="w-a"} 1',
      'wa_worker_sessions{status="initializing"} 0',
      'wa_worker_sessions{status="qr_scanning"} 0',
      'wa_worker_sessions{status="authenticated"} 0',
      'wa_worker_sessions{status="connected"} 1',
      'wa_worker_sessions{status="reconnecting"} 1',
      'wa_worker_sessions{status="disconnected"} 1',
      'wa_worker_sessions{status="failed"} 1',
      'wa_worker_session_up{session_id="a",workspace_id="w1"} 1',
      'wa_worker_session_up{session_id="b",workspace_id="w1"} 0',
      'wa_worker_session_up{session_id="d",workspace_id="w1"} 0',
      'wa_worker_session_reconnect_attempts{session_id="a",workspace_id="w1"} 0',
      'wa_worker_session_reconnect_attempts{session_id="b",workspace_id="w1"} 2',
      'wa_worker_session_reconnect_attempts{session_id="d",workspace_id="w1"} 3',
      'wa_worker_webhook_queue_events 7',
      'wa_worker_webhook_queue_bytes 2048',
      'wa_worker_capacity_max_sessions 5',
      'wa_worker_capacity_used_sessions 4',
    ]);

    // A session gone is gone from the next scrape: the per-session series never outnumber the sessions held.
    sessions.splice(0, 2);
    expect(await lines(metrics, 'wa_worker_session_up')).toEqual(['wa_worker_session_up{session_id="d",workspace_id="w1"} 0']);
  });

  it('reads no cap as a capacity maximum of 0 (the capacity alert asks max > 0)', async () => {
    expect(await lines(metricsOver([], undefined, null), 'wa_worker_capacity')).toEqual(['wa_worker_capacity_max_sessions 0', 'wa_worker_capacity_used_sessions 0']);
  });

  it('counts the leases held, those lost and the saves of logins (WHATSAPP_AUTH_STORE=postgres)', async () => {
    let held = 3;
    const manager = { list: () => [], usage: () => ({ max: 5, used: 0 }) } as unknown as SessionManager;
    const metrics = new WorkerMetrics({ manager, webhook: null, version: '9.9.9', workerId: 'w-a', leasesHeld: () => held });
    metrics.leaseLost('deadline');
    metrics.load();
    metrics.leaseLost('deadline');
    metrics.leaseLost('stale_fencing_token');
    metrics.authSave('saved');
    metrics.authSave('saved');
    metrics.authSave('too_large');
    expect(await lines(metrics, 'wa_worker_leases_held', 'wa_worker_lease_losses_total', 'wa_worker_auth_saves_total')).toEqual([
      'wa_worker_leases_held 3',
      'wa_worker_lease_losses_total{why="deadline"} 2',
      'wa_worker_lease_losses_total{why="stale_fencing_token"} 1',
      'wa_worker_auth_saves_total{outcome="saved"} 2',
      'wa_worker_auth_saves_total{outcome="too_large"} 1',
    ]);
    held = 0;
    expect(await lines(metrics, 'wa_worker_leases_held')).toEqual(['wa_worker_leases_held 0']);
  });
});
