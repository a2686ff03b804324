// The Prometheus metric names of the worker's `GET /metrics` and of the sync's textfile
// (`WA_SYNC_METRICS_FILE`), from the issue-18 metrics spec. The worker, the CLI, the alert rules'
// tests and the Grafana dashboard's test all name them from here, so a renamed metric is one edit
// and a dashboard or alert naming a metric nobody exports fails a test.
//
// Naming follows Prometheus' conventions: base units (`_seconds`, `_bytes`), `_total` on counters.
// A histogram's name here is its base name; Prometheus stores it as `<name>_bucket`, `_sum` and
// `_count` (see `metricSeriesNames`).

/** The prefix of every metric the worker exports, its default process metrics included. */
export const WORKER_METRIC_PREFIX = 'wa_worker_';
/** The prefix of every metric in the sync's textfile. */
export const SYNC_METRIC_PREFIX = 'wa_sync_';

/** A metric's Prometheus type, as written on its `# TYPE` line. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One metric: its type, its labels (empty: none) and its help text (the `# HELP` line). */
export interface MetricSpec {
  readonly type: MetricType;
  readonly labels: readonly string[];
  readonly help: string;
}

/**
 * The worker's metrics (besides prom-client's default process metrics, which carry the same
 * prefix). `session_id`/`workspace_id` labels appear only on the per-session gauges, so their
 * series are bounded by the worker's capacity (`/health.capacity.max`).
 */
export const WORKER_METRICS = {
  wa_worker_info: { type: 'gauge', labels: ['version', 'worker_id'], help: 'The worker\'s identity; always 1.' },
  wa_worker_sessions: { type: 'gauge', labels: ['status'], help: 'Sessions by status (every status, 0 included).' },
  wa_worker_session_up: {
    type: 'gauge',
    labels: ['session_id', 'workspace_id'],
    help: '1 when the session is connected, 0 when not; one series per session meant to run.',
  },
  wa_worker_session_reconnect_attempts: {
    type: 'gauge',
    labels: ['session_id', 'workspace_id'],
    help: 'The session\'s current consecutive reconnect attempts.',
  },
  wa_worker_reconnects_total: { type: 'counter', labels: ['reason'], help: 'Reconnects scheduled (a lost session relaunched), by reason.' },
  wa_worker_reconnects_exhausted_total: { type: 'counter', labels: [], help: 'Sessions that ran out of reconnect attempts (failed).' },
  wa_worker_probe_failures_total: { type: 'counter', labels: ['reason'], help: 'Liveness probes that failed, by reason.' },
  wa_worker_launch_duration_seconds: {
    type: 'histogram',
    labels: ['kind', 'outcome'],
    help: 'From a launch (start, restore, reconnect) to its first QR, ready, or failure.',
  },
  wa_worker_restore_duration_seconds: { type: 'histogram', labels: [], help: 'A whole restore at start, to its last session settled.' },
  wa_worker_messages_received_total: { type: 'counter', labels: ['workspace_id'], help: 'Incoming messages, by workspace.' },
  wa_worker_webhook_deliveries_total: {
    type: 'counter',
    labels: ['event', 'outcome'],
    help: 'Webhook delivery attempts by event and outcome (delivered, retried, failed = gave up).',
  },
  wa_worker_webhook_dropped_total: { type: 'counter', labels: ['event'], help: 'Webhook events dropped because the backlog was full.' },
  wa_worker_webhook_queue_events: { type: 'gauge', labels: [], help: 'Undelivered webhook backlog, in events.' },
  wa_worker_webhook_queue_bytes: { type: 'gauge', labels: [], help: 'Undelivered webhook backlog, in bytes.' },
  wa_worker_qr_timeouts_total: { type: 'counter', labels: [], help: 'Sessions stopped with QR_TIMEOUT.' },
  wa_worker_ready_timeouts_total: { type: 'counter', labels: [], help: 'Launches failed with READY_TIMEOUT.' },
  wa_worker_alerts_total: { type: 'counter', labels: ['kind'], help: 'session.alert events raised, by kind.' },
  wa_worker_capacity_max_sessions: { type: 'gauge', labels: [], help: 'The most sessions the worker runs at once (/health capacity.max).' },
  wa_worker_capacity_used_sessions: { type: 'gauge', labels: [], help: 'Sessions counted against the capacity (/health capacity.used).' },
  wa_worker_leases_held: { type: 'gauge', labels: [], help: 'Session leases this worker holds (WHATSAPP_AUTH_STORE=postgres; 0 with local).' },
  wa_worker_lease_losses_total: {
    type: 'counter',
    labels: ['why'],
    help: 'Leases this worker lost while running the session: not_renewed (gone from the database), deadline (no renewal in time), stale_fencing_token (a write refused).',
  },
  wa_worker_auth_saves_total: {
    type: 'counter',
    labels: ['outcome'],
    help: 'Saves of a session login to the database: saved, stale_fencing_token, too_large, failed.',
  },
} as const satisfies Record<`wa_worker_${string}`, MetricSpec>;

/**
 * The sync's metrics, all gauges without labels, written to `WA_SYNC_METRICS_FILE` (node_exporter's
 * textfile format) after every run, skipped ones included.
 */
export const SYNC_METRICS = {
  wa_sync_last_run_timestamp_seconds: { type: 'gauge', labels: [], help: 'End of the last sync-sessions run (any outcome), Unix seconds.' },
  wa_sync_last_success_timestamp_seconds: {
    type: 'gauge',
    labels: [],
    help: 'End of the last run that synced (exit 0, not skipped), Unix seconds; kept when a run fails or is skipped.',
  },
  wa_sync_last_run_duration_seconds: { type: 'gauge', labels: [], help: 'How long the last run took.' },
  wa_sync_last_run_success: { type: 'gauge', labels: [], help: '1 when the last run synced, 0 when it failed or was skipped.' },
  wa_sync_last_run_skipped: { type: 'gauge', labels: [], help: '1 when the last run was skipped because another run held the lock.' },
  // The counts below describe the last run that synced: a failed or skipped run counted nothing, and
  // writing 0 would resolve the alerts built on them (a given-up session stays given up) until the
  // next run that gets through.
  wa_sync_last_run_mismatches: { type: 'gauge', labels: [], help: 'Mismatches between the table and the worker found by the last run that synced.' },
  wa_sync_last_run_reconnected: { type: 'gauge', labels: [], help: 'Sessions the last run that synced brought back (start or reconnect accepted).' },
  wa_sync_last_run_reconnect_failed: { type: 'gauge', labels: [], help: 'Start or reconnect requests that failed in the last run that synced.' },
  wa_sync_last_run_given_up: { type: 'gauge', labels: [], help: 'Sessions the sync has given up on (a person must act), as of the last run that synced.' },
  wa_sync_last_run_unknown_sessions: {
    type: 'gauge',
    labels: [],
    help: 'Sessions the worker runs that the accounts table does not know, as of the last run that synced.',
  },
} as const satisfies Record<`wa_sync_${string}`, MetricSpec>;

/**
 * The few of prom-client's default process metrics (`collectDefaultMetrics({ prefix: 'wa_worker_' })`)
 * that the dashboard shows. The worker exports many more; these are named here so the dashboard's
 * test can tell them from a typo.
 */
export const WORKER_DEFAULT_METRICS = {
  wa_worker_process_resident_memory_bytes: { type: 'gauge', labels: [], help: 'Resident memory of the worker process (Chromium not included).' },
  wa_worker_process_cpu_seconds_total: { type: 'counter', labels: [], help: 'CPU time of the worker process, user and system.' },
  wa_worker_nodejs_eventloop_lag_p99_seconds: { type: 'gauge', labels: [], help: 'The 99th percentile of the worker\'s event loop lag.' },
} as const satisfies Record<`wa_worker_${string}`, MetricSpec>;

/** A worker metric's name. */
export type WorkerMetricName = keyof typeof WORKER_METRICS;
/** A sync metric's name. */
export type SyncMetricName = keyof typeof SYNC_METRICS;

/** Every metric the worker and the sync export, by name (of the worker's default process metrics, those in `WORKER_DEFAULT_METRICS`). */
export const METRICS: Readonly<Record<WorkerMetricName | keyof typeof WORKER_DEFAULT_METRICS | SyncMetricName, MetricSpec>> = {
  ...WORKER_METRICS,
  ...WORKER_DEFAULT_METRICS,
  ...SYNC_METRICS,
};

/**
 * The series names a metric appears under in Prometheus: a histogram's `_bucket`, `_sum` and
 * `_count`, any other metric its own name.
 */
export function metricSeriesNames(name: string, spec: MetricSpec): string[] {
  return spec.type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
}

/** Every series name a query may use for the metrics above (histograms by their `_bucket`/`_sum`/`_count`). */
export function knownSeriesNames(): Set<string> {
  return new Set(Object.entries(METRICS).flatMap(([name, spec]) => metricSeriesNames(name, spec)));
}
