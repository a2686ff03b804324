import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { REASONS } from '@wa-session-sync/shared';
import { buildApp } from '../src/app';
import { writeManifest } from '../src/sessions/manifest';
import { prepareRestore } from '../src/sessions/restore';
import { API_KEY, waitFor } from './helpers';
import { sessionHarness, type SessionHarness } from './session-harness';

// Admission against the memory floor, over the fake driver with the machine's memory set by the
// test: starts through real HTTP, the restore, and the check as a launch leaves the gate.

jest.setTimeout(20_000);

const FLOOR = 300;
const ESTIMATE = 150;

let h: SessionHarness;
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
  await h?.close();
});

/** A harness whose machine has `memory.available` MiB available and 2000 MiB in all. */
async function harness(available: number, options: Parameters<typeof sessionHarness>[0] = {}) {
  const memory = { available };
  h = await sessionHarness({
    launchConcurrency: 1,
    capacity: { minFreeMemoryMb: FLOOR, sessionMemoryMb: ESTIMATE, availableMemoryMb: () => memory.available, totalMemoryMb: () => 2000 },
    ...options,
  });
  return memory;
}

describe('admission against the memory floor', () => {
  it('admits only the parallel starts that fit above the floor, counting launches still waiting in the gate', async () => {
    await harness(FLOOR + 4 * ESTIMATE + 50);
    h.driver.configure = (client) => {
      client.onInitialize = () => new Promise(() => undefined); // every launch still under way
    };
    app = await buildApp({ apiKey: API_KEY, manager: h.manager, logger: h.logger });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });

    const answers = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const response = await fetch(`${url}/api/sessions`, {
          method: 'POST',
          headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
          body: JSON.stringify({ session_id: `s${i}`, workspace_id: 'w1' }),
        });
        return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as { error?: { code: string } } };
      }),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(4);
    const refused = answers.filter((a) => a.status !== 201);
    expect(refused).toHaveLength(6);
    for (const answer of refused) expect(answer).toMatchObject({ status: 503, retryAfter: '30', body: { error: { code: 'capacity_exhausted' } } });
    expect(h.manager.list()).toHaveLength(4);

    const health = (await (await fetch(`${url}/health`)).json()) as { capacity: unknown };
    // (2000 MiB - the floor) / the estimate, WHATSAPP_MAX_SESSIONS being unset
    expect(health.capacity).toEqual({ max: 11, used: 4 });
  });

  it('registers for the restore only the saved sessions that fit above the floor', async () => {
    await harness(FLOOR + 2 * ESTIMATE);
    for (const id of ['a1', 'a2', 'a3', 'a4', 'a5']) {
      await writeManifest(path.join(h.sessionsDir, 'w1', id), { workspace_id: 'w1', session_id: id, desired: 'running', phone_number: '628', updated_at: '' });
    }
    const prepared = await prepareRestore({ manager: h.manager, sessionsDir: h.sessionsDir, logger: h.logger });
    expect(prepared.tickets.map((t) => t.sessionId)).toEqual(['a1', 'a2']);
    expect(prepared.report.overCapacity).toEqual(['a3', 'a4', 'a5']);
    expect(() => h.manager.start('w1', 'x1')).toThrow('Not enough memory for another session');
  });

  it('checks the floor again as a launch leaves the gate: one whose memory went elsewhere meanwhile starts no browser (LOW_MEMORY)', async () => {
    const memory = await harness(FLOOR + 2 * ESTIMATE);
    let finishFirst!: () => void;
    h.driver.configure = (client) => {
      if (client.spec.sessionId === 's1') client.onInitialize = () => new Promise((resolve) => (finishFirst = resolve));
    };
    h.manager.start('w1', 's1');
    // s1 holds the launch gate (its launch hangs) before s2 is started: two starts at once reach
    // the gate in whichever order their profile checks finish (a loaded machine let s2 in first).
    const first = await h.client('s1');
    h.manager.start('w1', 's2'); // admitted: waits in the gate behind s1
    memory.available = FLOOR + ESTIMATE - 1; // s1's browser and something else took the room
    finishFirst();
    first.emit.ready('628');
    await waitFor(() => h.manager.get('s2').status === 'failed', 's2 given up after its attempts');
    expect(h.manager.get('s2')).toMatchObject({ status: 'failed', reason: REASONS.LOW_MEMORY });
    expect(h.driver.clientsOf('s2')).toHaveLength(0);
    expect(h.manager.get('s1').status).toBe('connected');

    // Room again: a new start of it launches.
    memory.available = FLOOR + ESTIMATE;
    h.manager.start('w1', 's2');
    await h.client('s2');
  });
});
