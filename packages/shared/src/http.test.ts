import { Value } from '@sinclair/typebox/value';
import { ERROR_CODES } from './error-codes';
import {
  CreateSessionRequestSchema,
  ErrorResponseSchema,
  HealthResponseSchema,
  ListSessionsQuerySchema,
  SessionParamsSchema,
  SessionsListResponseSchema,
  StopSessionResponseSchema,
  WorkerSessionSchema,
} from './http';
import { REASONS } from './reasons';

const session = {
  session_id: 'webjs_1_1763300356_ot6RUaMF',
  workspace_id: '1',
  status: 'connected',
  phone_number: '62811801641',
  updated_at: '2026-01-01T00:00:00.000Z',
  qr: null,
  reason: null,
  reconnect_attempts: 0,
  last_seen_alive_at: '2026-01-01T00:00:05.000Z',
};

describe('WorkerSessionSchema', () => {
  it.each([
    ['a connected session', session],
    ['one without the optional fields', { session_id: 's1', workspace_id: 'w1', status: 'initializing', phone_number: null, updated_at: 'x' }],
    ['one scanning a QR', { ...session, status: 'qr_scanning', phone_number: null, qr: '2@abc,def' }],
    ['a free-form reason from whatsapp-web.js', { ...session, status: 'disconnected', reason: 'UNPAIRED_IDLE' }],
    ['a field the schema does not name', { ...session, worker_id: 'worker-a' }],
  ])('accepts %s', (_what, value) => {
    expect(Value.Check(WorkerSessionSchema, value)).toBe(true);
  });

  it.each([
    ['a status outside the vocabulary', { ...session, status: 'online' }],
    ['an upper-case status', { ...session, status: 'CONNECTED' }],
    ['a session_id that leaves its folder', { ...session, session_id: '../etc' }],
    ['a workspace_id too long', { ...session, workspace_id: 'x'.repeat(101) }],
    ['a missing updated_at', { ...session, updated_at: undefined }],
    ['a missing phone_number', { ...session, phone_number: undefined }],
    ['a numeric phone_number', { ...session, phone_number: 62811801641 }],
    ['a negative reconnect count', { ...session, reconnect_attempts: -1 }],
    ['a fractional reconnect count', { ...session, reconnect_attempts: 1.5 }],
    ['a reason that is not a string', { ...session, reason: 5 }],
    ['a list instead of an object', [session]],
  ])('refuses %s', (_what, value) => {
    expect(Value.Check(WorkerSessionSchema, value)).toBe(false);
  });

  it('documents the known reasons', () => {
    expect(WorkerSessionSchema.properties.reason.description).toContain(REASONS.LOGOUT);
    expect(WorkerSessionSchema.properties.reason.description).toContain(REASONS.QR_TIMEOUT);
  });
});

describe('SessionsListResponseSchema', () => {
  it('accepts a list, empty or not, and refuses anything else', () => {
    expect(Value.Check(SessionsListResponseSchema, { sessions: [] })).toBe(true);
    expect(Value.Check(SessionsListResponseSchema, { sessions: [session, { ...session, session_id: 's2' }] })).toBe(true);
    expect(Value.Check(SessionsListResponseSchema, { sessions: [{ ...session, status: 'gone' }] })).toBe(false);
    expect(Value.Check(SessionsListResponseSchema, { items: [] })).toBe(false);
    expect(Value.Check(SessionsListResponseSchema, [session])).toBe(false);
  });
});

describe('HealthResponseSchema', () => {
  const health = {
    status: 'ok',
    uptime: 1390,
    sessions: { total: 3, connected: 2, by_status: { connected: 2, failed: 1 } },
    memory: { rss: 70_000_000, heapUsed: 20_000_000, heapTotal: 30_000_000, external: 2_000_000 },
    version: '0.1.0',
    capacity: { max: 6, used: 3 },
  };

  it('accepts what the worker answers, with counts for the statuses present only', () => {
    expect(Value.Check(HealthResponseSchema, health)).toBe(true);
    expect(Value.Check(HealthResponseSchema, { ...health, sessions: { total: 0, connected: 0, by_status: {} } })).toBe(true);
    expect(Value.Check(HealthResponseSchema, { ...health, capacity: { max: null, used: 0 } })).toBe(true);
    expect(Value.Check(HealthResponseSchema, { ...health, capacity: { max: 0, used: 0 } })).toBe(false);
  });

  it.each([
    ['another status', { ...health, status: 'starting' }],
    ['no uptime', { ...health, uptime: undefined }],
    ['no session counts', { ...health, sessions: undefined }],
    ['a count that is not a number', { ...health, sessions: { ...health.sessions, connected: '2' } }],
    ['a status count outside the vocabulary', { ...health, sessions: { ...health.sessions, by_status: { connected: 'two' } } }],
    ['no version', { ...health, version: undefined }],
  ])('refuses %s', (_what, value) => {
    expect(Value.Check(HealthResponseSchema, value)).toBe(false);
  });
});

describe('requests', () => {
  it.each([
    [{ session_id: 's1', workspace_id: 'w1' }, true],
    [{ session_id: 's1' }, false],
    [{ session_id: 'a/b', workspace_id: 'w1' }, false],
    [{ session_id: '', workspace_id: 'w1' }, false],
  ])('POST /api/sessions body %j: %s', (body, valid) => {
    expect(Value.Check(CreateSessionRequestSchema, body)).toBe(valid);
  });

  it('checks ids in the path and the workspace filter, and lets the api_key through', () => {
    expect(Value.Check(SessionParamsSchema, { session_id: 'a-b_C' })).toBe(true);
    expect(Value.Check(SessionParamsSchema, { session_id: 'a.b' })).toBe(false);
    expect(Value.Check(ListSessionsQuerySchema, {})).toBe(true);
    expect(Value.Check(ListSessionsQuerySchema, { workspace_id: 'w1', api_key: 'k' })).toBe(true);
    expect(Value.Check(ListSessionsQuerySchema, { workspace_id: '..' })).toBe(false);
  });

  it('describes the DELETE answer', () => {
    expect(Value.Check(StopSessionResponseSchema, { session_id: 's1', stopped: true, logged_out: false })).toBe(true);
    expect(Value.Check(StopSessionResponseSchema, { session_id: 's1', stopped: 'yes', logged_out: false })).toBe(false);
  });
});

describe('errors', () => {
  it('are lower snake case, each once', () => {
    for (const code of ERROR_CODES) expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });

  it.each([
    [{ error: { code: 'unauthorized', message: 'A valid API key is required' } }, true],
    [{ error: { code: 'payload_too_large', message: 'Request body is too large' } }, true],
    [{ error: { code: 'UNAUTHORIZED', message: 'bad key' } }, false],
    [{ error: { code: 'fst_err_ctp_empty_json_body', message: 'Body cannot be empty' } }, false],
    [{ error: { code: 'unauthorized' } }, false],
    [{ error: 'unauthorized' }, false],
  ])('the answer %j is valid: %s', (body, valid) => {
    expect(Value.Check(ErrorResponseSchema, body)).toBe(valid);
  });
});
