import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ErrorResponseSchema, HealthResponseSchema, SessionsListResponseSchema, WorkerSessionSchema } from '@wa-session-sync/shared';
import { API_KEY, ended, offContract, workerSession, WorkerStandIn } from './support';

// The CLI's tests trust the stand-in to answer what the worker answers: its answers are checked
// against the shared schemas, so that it cannot drift from the worker's contract.

let worker: WorkerStandIn;

beforeAll(async () => {
  worker = await WorkerStandIn.start();
});

afterAll(async () => {
  await worker?.close();
});

beforeEach(() => worker.reset());

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${worker.url}${path}`, {
    method,
    headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

function expectValid(schema: Parameters<typeof TypeCompiler.Compile>[0], value: unknown): void {
  const checker = TypeCompiler.Compile(schema);
  expect([...checker.Errors(value)].map((e) => `${e.path} ${e.message}`)).toEqual([]);
}

describe('the worker stand-in answers on the contract', () => {
  it('by default: health, the session list, a start, a reconnect and an unknown route each match their shared schema', async () => {
    worker.report({ session_id: 'dead', status: 'failed' });
    const health = await call('GET', '/health');
    expect(health.status).toBe(200);
    expectValid(HealthResponseSchema, health.json);
    const list = await call('GET', '/api/sessions');
    expectValid(SessionsListResponseSchema, list.json);
    const start = await call('POST', '/api/sessions', { session_id: 'new', workspace_id: '7' });
    expect(start.status).toBe(201);
    expectValid(WorkerSessionSchema, start.json);
    expect(start.json).toMatchObject({ session_id: 'new', workspace_id: '7', status: 'initializing' });
    const reconnect = await call('POST', '/api/sessions/dead/reconnect');
    expect(reconnect.status).toBe(202);
    expectValid(WorkerSessionSchema, reconnect.json);
    expect(reconnect.json).toMatchObject({ session_id: 'dead', status: 'reconnecting' });
    const unknown = await call('GET', '/api/nowhere');
    expect(unknown.status).toBe(404);
    expectValid(ErrorResponseSchema, unknown.json);
  });

  it('refuses, where the test sets it, an answer off the contract', () => {
    expect(() => worker.answer('x', { status: 500, body: { error: { code: 'NOT_FOUND' as never, message: 'no' } } })).toThrow(
      /answer for x is off the worker's contract .*wrap it in offContract\(\)/,
    );
    expect(() => worker.answer('x', { status: 202, body: { status: 'reconnecting' } as never })).toThrow(/off the worker's contract/);
    expect(() => (worker.health = { status: 200, body: { status: 'ok' } as never })).toThrow(/\/health answer 200 is off the worker's contract/);
    expect(() => (worker.health = { status: 503, body: { status: 'starting' } as never })).toThrow(/off the worker's contract/);
    expect(() => worker.report({ session_id: 'x', status: 'online' as never })).toThrow(/session "x" is off the worker's contract/);
  });

  it('sends an off-contract answer only when the test marks it so', async () => {
    worker.health = { status: 200, body: offContract('<html>oops') };
    const response = await fetch(`${worker.url}/health`);
    expect(await response.text()).toBe('<html>oops');
    worker.report(offContract({ ...workerSession({ session_id: 'garbled' }), status: 'online' }), { session_id: 'fine' });
    expect((await call('GET', '/api/sessions')).json).toMatchObject({ sessions: [{ session_id: 'garbled', status: 'online' }, { session_id: 'fine' }] });
  });
});

describe('the waits of the CLI tests are bounded and named', () => {
  it('a run that never ends fails naming what was awaited', async () => {
    await expect(ended(new Promise(() => undefined), 'a run that never ends', 50)).rejects.toThrow('timed out after 50 ms waiting for a run that never ends');
    await expect(ended(Promise.reject(new Error('boom')), 'a failing run', 50)).rejects.toThrow('boom');
    await expect(ended(Promise.resolve(7), 'a run', 50)).resolves.toBe(7);
  });

  it('a session list request that never comes fails naming the stand-in', async () => {
    await expect(worker.sessionsRequested(50)).rejects.toThrow(`timed out after 50 ms waiting for the run's GET /api/sessions to reach the worker stand-in at ${worker.url}`);
  });
});
