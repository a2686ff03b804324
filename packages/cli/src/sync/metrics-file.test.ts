import { parseSyncMetrics, renderSyncMetrics } from './metrics-file';

const SYNCED_FILE = `# HELP wa_sync_last_run_timestamp_seconds End of the last sync-sessions run (any outcome), Unix seconds.
# TYPE wa_sync_last_run_timestamp_seconds gauge
wa_sync_last_run_timestamp_seconds 1796812345.678
# HELP wa_sync_last_success_timestamp_seconds End of the last run that synced (exit 0, not skipped), Unix seconds; kept when a run fails or is skipped.
# TYPE wa_sync_last_success_timestamp_seconds gauge
wa_sync_last_success_timestamp_seconds 1796812345.678
# HELP wa_sync_last_run_duration_seconds How long the last run took.
# TYPE wa_sync_last_run_duration_seconds gauge
wa_sync_last_run_duration_seconds 0.25
# HELP wa_sync_last_run_success 1 when the last run synced, 0 when it failed or was skipped.
# TYPE wa_sync_last_run_success gauge
wa_sync_last_run_success 1
# HELP wa_sync_last_run_skipped 1 when the last run was skipped because another run held the lock.
# TYPE wa_sync_last_run_skipped gauge
wa_sync_last_run_skipped 0
# HELP wa_sync_last_run_mismatches Mismatches between the table and the worker found by the last run that synced.
# TYPE wa_sync_last_run_mismatches gauge
wa_sync_last_run_mismatches 3
# HELP wa_sync_last_run_reconnected Sessions the last run that synced brought back (start or reconnect accepted).
# TYPE wa_sync_last_run_reconnected gauge
wa_sync_last_run_reconnected 1
# HELP wa_sync_last_run_reconnect_failed Start or reconnect requests that failed in the last run that synced.
# TYPE wa_sync_last_run_reconnect_failed gauge
wa_sync_last_run_reconnect_failed 0
# HELP wa_sync_last_run_given_up Sessions the sync has given up on (a person must act), as of the last run that synced.
# TYPE wa_sync_last_run_given_up gauge
wa_sync_last_run_given_up 2
# HELP wa_sync_last_run_unknown_sessions Sessions the worker runs that the accounts table does not know, as of the last run that synced.
# TYPE wa_sync_last_run_unknown_sessions gauge
wa_sync_last_run_unknown_sessions 4
`;

describe('renderSyncMetrics', () => {
  it('writes every metric of a run that synced, with HELP and TYPE lines', () => {
    const text = renderSyncMetrics(
      { outcome: 'synced', counts: { mismatches: 3, reconnected: 1, reconnectFailed: 0, givenUp: 2, unknownSessions: 4 } },
      1_796_812_345_678,
      250,
      new Map([['wa_sync_last_success_timestamp_seconds', 1]]),
    );
    expect(text).toBe(SYNCED_FILE);
  });

  it('a failed run keeps the last success and its counts from the file before, and says it failed', () => {
    const values = parseSyncMetrics(renderSyncMetrics({ outcome: 'failed' }, 1_796_812_645_000, 10_001, parseSyncMetrics(SYNCED_FILE)));
    expect(Object.fromEntries(values)).toEqual({
      wa_sync_last_run_timestamp_seconds: 1796812645,
      wa_sync_last_success_timestamp_seconds: 1796812345.678,
      wa_sync_last_run_duration_seconds: 10.001,
      wa_sync_last_run_success: 0,
      wa_sync_last_run_skipped: 0,
      wa_sync_last_run_mismatches: 3,
      wa_sync_last_run_reconnected: 1,
      wa_sync_last_run_reconnect_failed: 0,
      wa_sync_last_run_given_up: 2,
      wa_sync_last_run_unknown_sessions: 4,
    });
  });

  it('a skipped run is marked skipped, not successful', () => {
    const values = parseSyncMetrics(renderSyncMetrics({ outcome: 'skipped' }, 1_796_812_945_000, 30, parseSyncMetrics(SYNCED_FILE)));
    expect(values.get('wa_sync_last_run_skipped')).toBe(1);
    expect(values.get('wa_sync_last_run_success')).toBe(0);
    expect(values.get('wa_sync_last_success_timestamp_seconds')).toBe(1796812345.678);
  });

  it('without a file before, a failed run leaves the last success out (its absence is what the alert sees)', () => {
    const text = renderSyncMetrics({ outcome: 'failed' }, 1_796_812_645_000, 5, new Map());
    expect(text).not.toContain('wa_sync_last_success_timestamp_seconds');
    expect(text).not.toContain('wa_sync_last_run_given_up');
    expect(text).toContain('wa_sync_last_run_success 0\n');
  });
});

describe('parseSyncMetrics', () => {
  it('reads label-free wa_sync_ samples and ignores comments, other metrics and values that are not numbers', () => {
    const text = [
      '# wa_sync_last_run_success 7',
      'wa_sync_last_success_timestamp_seconds 1796812345.5',
      'wa_sync_last_run_given_up NaN',
      'wa_sync_last_run_mismatches{x="1"} 9',
      'node_load1 0.5',
      'wa_sync_last_run_reconnected   2  ',
      'garbage',
    ].join('\n');
    expect(Object.fromEntries(parseSyncMetrics(text))).toEqual({
      wa_sync_last_success_timestamp_seconds: 1796812345.5,
      wa_sync_last_run_reconnected: 2,
    });
  });
});
