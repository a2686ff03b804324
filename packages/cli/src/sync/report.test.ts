import { renderReport, reportJson } from './report';
import type { MismatchReport, SyncReport } from './outcome';

function report(mismatches: MismatchReport[], overrides: Partial<SyncReport> = {}): SyncReport {
  const count = (result: string) => mismatches.filter((m) => m.result === result).length;
  return {
    run_id: 'run-1',
    dry_run: false,
    auto_reconnect: true,
    reconnect_policy: { base_minutes: 5, max_attempts: 5 },
    workspace_id: null,
    started_at: '2025-11-20T02:15:00.000Z',
    worker: { url: 'http://localhost:3001', uptime: 1390.4, total: 0, connected: 0 },
    database: { label: '127.0.0.1:5432/app', active_accounts: 1 },
    mismatches,
    unknown_worker_sessions: [],
    invalid_worker_sessions: [],
    invalid_worker_values: [],
    invalid_accounts: [],
    summary: {
      mismatches: mismatches.length,
      reconnected: count('reconnected'),
      statuses_updated: count('status_updated'),
      reconnect_failed: count('reconnect_failed'),
      backed_off: count('backed_off'),
      given_up: count('given_up'),
      conflicts: count('conflict'),
      unknown_worker_sessions: 0,
      invalid_worker_sessions: 0,
      invalid_worker_values: 0,
      invalid_accounts: 0,
    },
    audit_log: null,
    warnings: [],
    duration_ms: 12,
    timings_ms: {},
    ...overrides,
  };
}

const seedMismatch: MismatchReport = {
  session_id: 'webjs_1_1763300356_ot6RUaMF',
  workspace_id: '1',
  phone_number: '62811801641',
  database_status: 'connected',
  worker_status: null,
  action: 'start',
  result: 'reconnected',
  new_status: 'initializing',
  reconnect_attempts: 1,
  next_reconnect_at: '2025-11-20T02:20:00.000Z',
  error: null,
  metadata_replaced: false,
};

describe('renderReport', () => {
  it('prints what the database and the worker said with its control characters escaped, never obeyed', () => {
    const evil = 'x\u001b]0;pwned\u0007\u001b[2J\u009b\u202e';
    const unsafe = report([{ ...seedMismatch, session_id: evil, error: 'HTTP 500\r\n' }], {
      invalid_accounts: [{ session_id: evil, workspace_id: '1\u0000', reason: 'session_id does not match' }],
    });
    unsafe.summary.invalid_accounts = 1;
    const text = renderReport(unsafe, { color: false });
    expect(text).toContain('Session ID: x\\x1b]0;pwned\\x07\\x1b[2J\\x9b\\u202e\n');
    expect(text).toContain('   x\\x1b]0;pwned\\x07\\x1b[2J\\x9b\\u202e (workspace 1\\x00): session_id does not match\n');
    expect(text).toContain('   Invalid accounts skipped: 1\n');
    // Nothing a terminal acts on is left but the line breaks of the report itself.
    expect(text.replace(/\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
  });

  it('leaves the colour sequences of its own on a terminal', () => {
    const text = renderReport(report([{ ...seedMismatch, session_id: 'a\u001bb' }]), { color: true });
    expect(text).toContain('a\\x1bb');
    expect(text).toContain('\u001b[32m');
  });

  it("renders the seed document's report", () => {
    expect(renderReport(report([seedMismatch]), { color: false })).toBe(
      [
        '🔄 Starting WhatsApp session synchronization...',
        '✅ Worker is healthy (uptime: 1390s) at http://localhost:3001',
        '   Sessions in worker: 0 total, 0 connected',
        '',
        '📊 Database Analysis:',
        '   Sessions in database: 1 active (127.0.0.1:5432/app)',
        '',
        '⚠️  Mismatch found:',
        '   Session ID: webjs_1_1763300356_ot6RUaMF',
        '   Phone: 62811801641',
        '   Database status: connected',
        '   Worker status: not found',
        '   🔄 Attempting auto-reconnect...',
        '   ✅ Reconnection initiated successfully (start the session; now initializing, attempt 1 of 5)',
        '',
        '='.repeat(60),
        '📈 Synchronization Summary:',
        '   Mismatches found: 1',
        '   Sessions reconnected: 1',
        '   Statuses updated: 0',
        '   Reconnects failed: 0',
        '   Reconnects backed off: 0',
        '   Reconnects given up: 0',
        '   Unknown to the database: 0',
        '   Invalid worker entries: 0',
        '='.repeat(60),
        '',
      ].join('\n'),
    );
  });

  it('says what was done for each kind of outcome', () => {
    const text = renderReport(
      report([
        { ...seedMismatch, session_id: 'a', result: 'reconnect_failed', new_status: 'disconnected', error: 'HTTP 500', reconnect_attempts: 2 },
        { ...seedMismatch, session_id: 'b', action: 'update_status', result: 'status_updated', worker_status: 'failed', new_status: 'failed' },
        { ...seedMismatch, session_id: 'c', action: 'update_status', result: 'conflict', new_status: null },
      ]),
      { color: false },
    );
    expect(text).toContain(
      '   ❌ Reconnect failed: HTTP 500; status disconnected (attempt 2 of 5, next not before 2025-11-20T02:20:00.000Z)',
    );
    expect(text).toContain('   Worker status: failed\n   📝 Status updated: connected → failed\n');
    expect(text).toContain('   ⏭️  Skipped: the row changed during the sync (the next run decides)');
    expect(text).toContain('   Skipped (row changed meanwhile): 1');
  });

  it('lists backed-off, given-up, unknown and invalid sessions in their own sections', () => {
    const text = renderReport(
      report(
        [
          { ...seedMismatch, session_id: 'wait', result: 'backed_off', new_status: null, reconnect_attempts: 2 },
          { ...seedMismatch, session_id: 'dead', result: 'given_up', new_status: null, reconnect_attempts: 5 },
        ],
        {
          unknown_worker_sessions: [{ session_id: 'stranger', workspace_id: '9', status: 'connected' }],
          invalid_worker_sessions: [{ session_id: null, reason: 'invalid session_id missing' }],
        },
      ),
      { color: false },
    );
    expect(text).not.toContain('Mismatch found');
    expect(text).toContain(
      '⏸️  Reconnect backed off (waiting for the next attempt):\n   wait: connected / worker not found, 2 of 5 attempts, next not before 2025-11-20T02:20:00.000Z\n',
    );
    expect(text).toContain('🛑 Given up (a person must reconnect these):\n   dead: connected / worker not found, 5 attempts failed\n');
    expect(text).toContain('❓ Sessions the worker runs that the database does not know (left alone):\n   stranger (workspace 9): connected\n');
    expect(text).toContain('🚫 Worker entries skipped as invalid (never written):\n   (no id): invalid session_id missing\n');
    expect(text).toContain('   Reconnects backed off: 1\n   Reconnects given up: 1\n');
  });

  it('lists worker values treated as unknown, and counts them in the summary', () => {
    const text = renderReport(
      report([], {
        invalid_worker_values: [{ session_id: 'long', field: 'phone_number', value: '"99999"...', reason: 'not a phone number: treated as unknown' }],
        summary: { ...report([]).summary, invalid_worker_values: 1 },
      }),
      { color: false },
    );
    expect(text).toContain(
      '🚫 Worker values ignored (the entry was used, the value treated as unknown):\n   long: phone_number "99999"...: not a phone number: treated as unknown\n',
    );
    expect(text).toContain('   Invalid worker entries: 0\n   Invalid worker values: 1\n');
    expect(renderReport(report([]), { color: false })).not.toContain('Invalid worker values');
  });

  it('says when a row\'s metadata was not an object and was replaced, or would be', () => {
    const replaced = { ...seedMismatch, action: 'update_status' as const, result: 'status_updated' as const, new_status: 'disconnected' as const, metadata_replaced: true };
    expect(renderReport(report([replaced]), { color: false })).toContain(
      "   📝 Status updated: connected → disconnected\n   ⚠️  Metadata was not a JSON object: replaced with one holding the sync's keys (the old value is in the audit log)\n",
    );
    expect(renderReport(report([{ ...replaced, result: 'planned' }], { dry_run: true }), { color: false })).toContain(
      "   ⚠️  Metadata is not a JSON object: the write would replace it with one holding the sync's keys\n",
    );
    expect(renderReport(report([seedMismatch]), { color: false })).not.toContain('Metadata');
  });

  it('marks a dry run and says what it would do', () => {
    const text = renderReport(report([{ ...seedMismatch, result: 'planned', new_status: 'disconnected' }], { dry_run: true }), {
      color: false,
    });
    expect(text).toContain('(dry run: nothing is sent or written)');
    expect(text).toContain('📝 Would ask the worker to start the session (dry run)');
    expect(text).toContain('📈 Synchronization Summary: (dry run)');
  });

  it('says so when there is nothing to do, and colours only when asked', () => {
    const plain = renderReport(report([]), { color: false });
    expect(plain).toContain('✅ No mismatches found');
    expect(plain).not.toContain('\u001b[');
    expect(renderReport(report([]), { color: true })).toContain('\u001b[');
  });
});

describe('reportJson', () => {
  it('carries the same facts with the contract summary keys', () => {
    const json = reportJson(report([seedMismatch]));
    expect(json).toMatchObject({
      ok: true,
      skipped: false,
      summary: { mismatches: 1, reconnected: 1, statuses_updated: 0 },
      mismatches: [{ session_id: 'webjs_1_1763300356_ot6RUaMF', database_status: 'connected', worker_status: null }],
    });
  });
});
