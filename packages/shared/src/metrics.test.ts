import { knownSeriesNames, METRICS, SYNC_METRICS, WORKER_DEFAULT_METRICS, WORKER_METRICS } from './metrics';

describe('the metric names', () => {
  it('follow Prometheus naming: a prefix per exporter, _total on counters only, base units', () => {
    for (const [name, spec] of Object.entries(METRICS)) {
      expect(name).toMatch(/^wa_(worker|sync)_[a-z0-9_]+$/);
      expect({ name, counter: name.endsWith('_total') }).toEqual({ name, counter: spec.type === 'counter' });
      expect(name).not.toMatch(/_(ms|milliseconds|minutes|mb|kb)(_|$)/);
      expect(spec.help.length).toBeGreaterThan(10);
    }
  });

  it('the sync writes label-free gauges only (its textfile has one run)', () => {
    for (const spec of Object.values(SYNC_METRICS)) expect(spec).toMatchObject({ type: 'gauge', labels: [] });
    expect(Object.keys(SYNC_METRICS)).toHaveLength(10);
  });

  it('keeps session and workspace labels on the per-session gauges alone (their series are bounded by the capacity)', () => {
    const perSession = Object.entries({ ...WORKER_METRICS, ...WORKER_DEFAULT_METRICS })
      .filter(([, spec]) => (spec.labels as readonly string[]).includes('session_id'))
      .map(([name]) => name);
    expect(perSession.sort()).toEqual(['wa_worker_session_reconnect_attempts', 'wa_worker_session_up']);
  });

  it('knows a histogram by its _bucket, _sum and _count series', () => {
    const known = knownSeriesNames();
    expect(known.has('wa_worker_launch_duration_seconds_bucket')).toBe(true);
    expect(known.has('wa_worker_restore_duration_seconds_count')).toBe(true);
    expect(known.has('wa_worker_launch_duration_seconds')).toBe(false);
    expect(known.has('wa_sync_last_run_given_up')).toBe(true);
  });
});
