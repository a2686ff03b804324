import type * as PromClient from 'prom-client';
import { REASONS, SESSION_STATUSES, WORKER_METRICS, type WorkerMetricName } from '@wa-session-sync/shared';
import type { Listener, WorkerEvent } from './events/bus';
import type { SessionManager } from './sessions/manager';

/** What a webhook delivery attempt came to (`wa_worker_webhook_deliveries_total` / `_dropped_total`). */
export type WebhookOutcome = 'delivered' | 'retried' | 'failed' | 'dropped';

/** The webhook dispatcher's backlog, read at scrape time. */
export interface WebhookBacklog {
  readonly pending: number;
  readonly pendingBytes: number;
}

export interface WorkerMetricsOptions {
  manager: SessionManager;
  /** The dispatcher's backlog; null without a webhook (the queue gauges then read 0). */
  webhook: WebhookBacklog | null;
  version: string;
  /** `WHATSAPP_WORKER_ID` (default: the host name). */
  workerId: string;
  /** The leases this worker holds now (WHATSAPP_AUTH_STORE=postgres); none given: 0. */
  leasesHeld?: () => number;
}

/** Why a lease was lost (`wa_worker_lease_losses_total`). */
export type LeaseLoss = 'not_renewed' | 'deadline' | 'stale_fencing_token';
/** What a save of a login came to (`wa_worker_auth_saves_total`). */
export type AuthSaveOutcome = 'saved' | 'stale_fencing_token' | 'too_large' | 'failed';

/** Buckets of the launch histogram, seconds: a launch takes from ~1 s (simulator) to minutes (a slow WhatsApp Web). */
const LAUNCH_BUCKETS = [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300];
/** Buckets of the restore histogram, seconds: a whole restore of many sessions, one at a time, runs to many minutes. */
const RESTORE_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800];

/** prom-client default metrics that are gauges with a counter's `_total` suffix. */
const DEFAULT_GAUGES_NAMED_TOTAL = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

type Recording = (metrics: Loaded) => void;

/** The prom-client objects, built once prom-client is loaded. */
interface Loaded {
  registry: PromClient.Registry;
  counter: (name: WorkerMetricName) => PromClient.Counter<string>;
  histogram: (name: WorkerMetricName) => PromClient.Histogram<string>;
}

/**
 * The worker's Prometheus metrics (`GET /metrics`), every name, type, label and help from the shared
 * spec (`@wa-session-sync/shared` `WORKER_METRICS`). Counters and histograms follow the event bus
 * ({@link listener}: one subscriber, touching no other) and the webhook dispatcher's outcomes
 * ({@link webhookOutcome}); gauges are read from the manager and the dispatcher at scrape time.
 *
 * prom-client costs ~55 ms to load (measured: `node -e "require('prom-client')"` timed inside, 3 runs),
 * so it is loaded after the worker listens ({@link load}), not on the start's path; what happens
 * before that (a tick's worth of events) is kept and recorded at the load.
 *
 * Label cardinality: `session_id`/`workspace_id` appear only on the two per-session gauges, one
 * series per session the worker holds (at most `WHATSAPP_MAX_SESSIONS`, `/health.capacity.max`;
 * rebuilt at every scrape, so a session gone is gone from the next scrape). `workspace_id` on the
 * messages counter is bounded by the workspaces of those sessions; `kind`, `event`, `outcome`
 * and `status` take values from fixed vocabularies, `reason` too ({@link reasonLabel}).
 */
export class WorkerMetrics {
  private loaded: Loaded | null = null;
  private readonly early: Recording[] = [];

  constructor(private readonly options: WorkerMetricsOptions) {}

  /** The bus subscriber: counters and histograms from the worker's events. */
  readonly listener: Listener = (event) => this.record((m) => recordEvent(m, event));

  /** A webhook delivery attempt's outcome, or a drop (the dispatcher's `onOutcome` hook). */
  webhookOutcome(event: string, outcome: WebhookOutcome): void {
    this.record((m) => {
      if (outcome === 'dropped') m.counter('wa_worker_webhook_dropped_total').inc({ event });
      else m.counter('wa_worker_webhook_deliveries_total').inc({ event, outcome });
    });
  }

  /** A lease lost while its session ran here. */
  leaseLost(why: LeaseLoss): void {
    this.record((m) => m.counter('wa_worker_lease_losses_total').inc({ why }));
  }

  /** A save of a session's login to the database, and what it came to (an unchanged login is not a save). */
  authSave(outcome: AuthSaveOutcome): void {
    this.record((m) => m.counter('wa_worker_auth_saves_total').inc({ outcome }));
  }

  /** The restore at start has settled its last session. */
  restoreFinished(durationMs: number): void {
    this.record((m) => m.histogram('wa_worker_restore_duration_seconds').observe(durationMs / 1000));
  }

  /** The scrape's body, in Prometheus' text format. */
  async text(): Promise<{ contentType: string; body: string }> {
    const { registry } = this.load();
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  /** Loads prom-client and builds the registry (once); records what came before. */
  load(): Loaded {
    if (this.loaded) return this.loaded;
    const prom = require('prom-client') as typeof import('prom-client');
    const loaded = build(prom, this.options);
    this.loaded = loaded;
    for (const recording of this.early.splice(0)) recording(loaded);
    return loaded;
  }

  private record(recording: Recording): void {
    if (this.loaded) recording(this.loaded);
    else this.early.push(recording);
  }
}

/**
 * A reason as a label value. Reasons are the worker's `REASONS` and WhatsApp Web's state names
 * (`CONFLICT`, `UNPAIRED`...), all short upper-case words; anything else (a library that one day
 * passes an error message) is `OTHER`, so no text can grow the series without bound.
 */
export function reasonLabel(reason: string | undefined): string {
  return reason !== undefined && /^[A-Z][A-Z0-9_]{0,39}$/.test(reason) ? reason : 'OTHER';
}

function recordEvent(m: Loaded, event: WorkerEvent): void {
  switch (event.type) {
    case 'status':
      if (event.to === 'disconnected' && event.reason === REASONS.QR_TIMEOUT) m.counter('wa_worker_qr_timeouts_total').inc();
      return;
    case 'loss':
      if (event.reason === REASONS.READY_TIMEOUT) m.counter('wa_worker_ready_timeouts_total').inc();
      if (event.retry) m.counter('wa_worker_reconnects_total').inc({ reason: reasonLabel(event.reason) });
      return;
    case 'alert':
      m.counter('wa_worker_alerts_total').inc({ kind: event.kind });
      if (event.kind === 'reconnect_exhausted') m.counter('wa_worker_reconnects_exhausted_total').inc();
      return;
    case 'probe':
      if (!event.ok) m.counter('wa_worker_probe_failures_total').inc({ reason: reasonLabel(event.reason) });
      return;
    case 'launch':
      m.histogram('wa_worker_launch_duration_seconds').observe({ kind: event.kind, outcome: event.outcome }, event.duration_ms / 1000);
      return;
    case 'message':
      m.counter('wa_worker_messages_received_total').inc({ workspace_id: event.workspace_id });
      return;
    default:
      return;
  }
}

/** A session the worker holds that is meant to run: all but one a QR timeout stopped (saved as stopped). */
function meantToRun(session: { status: string; reason?: string | null }): boolean {
  return !(session.status === 'disconnected' && session.reason === REASONS.QR_TIMEOUT);
}

function build(prom: typeof PromClient, options: WorkerMetricsOptions): Loaded {
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry, prefix: 'wa_worker_' });
  // Three of prom-client's defaults are gauges named `_total`, which `promtool check metrics`
  // refuses (a `_total` is a counter). Their by-type twins (`..._active_handles{type}` etc.) stay.
  for (const name of DEFAULT_GAUGES_NAMED_TOTAL) registry.removeSingleMetric(`wa_worker_${name}`);
  const { manager } = options;
  const collectors: Partial<Record<WorkerMetricName, (this: PromClient.Gauge<string>) => void>> = {
    wa_worker_info() {
      this.set({ version: options.version, worker_id: options.workerId }, 1);
    },
    wa_worker_sessions() {
      const counts = new Map<string, number>(SESSION_STATUSES.map((s) => [s, 0]));
      for (const s of manager.list()) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
      for (const [status, n] of counts) this.set({ status }, n);
    },
    wa_worker_session_up() {
      this.reset();
      for (const s of manager.list()) if (meantToRun(s)) this.set({ session_id: s.session_id, workspace_id: s.workspace_id }, s.status === 'connected' ? 1 : 0);
    },
    wa_worker_session_reconnect_attempts() {
      this.reset();
      for (const s of manager.list()) if (meantToRun(s)) this.set({ session_id: s.session_id, workspace_id: s.workspace_id }, s.reconnect_attempts ?? 0);
    },
    wa_worker_webhook_queue_events() {
      this.set(options.webhook?.pending ?? 0);
    },
    wa_worker_webhook_queue_bytes() {
      this.set(options.webhook?.pendingBytes ?? 0);
    },
    wa_worker_capacity_max_sessions() {
      // No cap (`/health.capacity.max` null) reads 0: prom-client always exposes a label-less
      // gauge, and the capacity alert asks `max > 0` before dividing by it.
      this.set(manager.usage().max ?? 0);
    },
    wa_worker_capacity_used_sessions() {
      this.set(manager.usage().used);
    },
    wa_worker_leases_held() {
      this.set(options.leasesHeld?.() ?? 0);
    },
  };
  const counters = new Map<string, PromClient.Counter<string>>();
  const histograms = new Map<string, PromClient.Histogram<string>>();
  for (const [name, spec] of Object.entries(WORKER_METRICS) as Array<[WorkerMetricName, (typeof WORKER_METRICS)[WorkerMetricName]]>) {
    const common = { name, help: spec.help, labelNames: [...spec.labels], registers: [registry] };
    if (spec.type === 'counter') counters.set(name, new prom.Counter(common));
    else if (spec.type === 'histogram') {
      histograms.set(name, new prom.Histogram({ ...common, buckets: name === 'wa_worker_restore_duration_seconds' ? RESTORE_BUCKETS : LAUNCH_BUCKETS }));
    } else new prom.Gauge({ ...common, collect: collectors[name] });
  }
  return {
    registry,
    counter: (name) => counters.get(name)!,
    histogram: (name) => histograms.get(name)!,
  };
}
