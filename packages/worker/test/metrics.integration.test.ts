import fs from 'node:fs/promises';
import path from 'node:path';
import { cleanEnv, simulatedWorkerEnv, spawnProcess, startSimulator, type Simulator } from '@wa-session-sync/test-support';
import { browsersUnderTest } from '@wa-session-sync/test-support';
import { endProcessSuite, spawnWorker, startReceiver, tempDir, waitFor, type Receiver, type WorkerProcess } from './helpers';

// GET /metrics on the real stack: the built worker, real whatsapp-web.js in Chromium against the
// simulator, a webhook receiver refusing messages. Prometheus' own linter reads the scrape, the
// counters move with a reconnect, a message and a webhook failure, and the route's two ways in.
jest.setTimeout(180_000);

const [browser] = browsersUnderTest();
const PHONE = '5511990001111';
const METRICS_TOKEN = 'metrics-token-7Qv2xLp9Rk4t';
const WORKER_ID = 'worker-under-test-1';

/** `promtool check metrics` on `text` (stdin), as CI runs it. Fails loudly when promtool is missing. */
async function promtoolCheckMetrics(text: string, dir: string): Promise<{ code: number | null; output: string }> {
  const file = path.join(dir, `scrape-${Date.now()}.prom`);
  await fs.writeFile(file, text);
  const result = await spawnProcess(
    'sh',
    ['-c', 'command -v promtool >/dev/null || { echo "promtool is not installed (Debian: apt-get install prometheus)"; exit 127; }; promtool check metrics < "$1"', 'sh', file],
    { env: cleanEnv() },
  ).done;
  return { code: result.code, output: result.stdout + result.stderr };
}

/** The value of one sample (`name{labels}` exactly as exposed, labels in prom-client's order); undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The sum of every sample of `name` whose labels include all of `labels` (`key="value"` each). */
function total(text: string, name: string, ...labels: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    if (labels.every((l) => (match[2] ?? '').includes(l))) sum += Number(match[3]);
  }
  return sum;
}

describe('GET /metrics from the built worker', () => {
  let sim: Simulator;
  let receiver: Receiver;
  let dir: string;
  let worker: WorkerProcess;

  beforeAll(async () => {
    sim = await startSimulator({ quiet: true });
    // Messages are refused: every delivery of one fails, is retried, and is given up.
    receiver = await startReceiver((event) => (event.event === 'message' ? 500 : 200));
    dir = await tempDir('metrics');
    worker = await spawnWorker({
      ...simulatedWorkerEnv(sim, { sessionsDir: path.join(dir, 'sessions'), logDir: path.join(dir, 'logs') }),
      ...browser!.env,
      ...receiver.workerEnv(),
      WHATSAPP_RESTORE_ON_START: 'false',
      WHATSAPP_WEBHOOK_RETRY_BASE_MS: '20',
      WHATSAPP_METRICS_TOKEN: METRICS_TOKEN,
      WHATSAPP_WORKER_ID: WORKER_ID,
      WHATSAPP_MAX_SESSIONS: '4',
      LOG_LEVEL: 'debug',
    });
  });

  afterAll(async () => {
    const left = await endProcessSuite({ worker, dir, sim, receiver });
    expect(left).toEqual([]);
  });

  const scrape = async (headers: Record<string, string> = { authorization: `Bearer ${METRICS_TOKEN}` }) => {
    const res = await fetch(`${worker.url}/metrics`, { headers });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };

  it('passes promtool with a connected session, and its counters move with a message, a webhook failure and a reconnect', async () => {
    expect((await worker.api('POST', '/api/sessions', { session_id: 'm1', workspace_id: 'w1' })).status).toBe(201);
    const qr = await waitFor(async () => (await worker.session('m1'))?.qr ?? undefined, 'a QR', 45_000);
    // The simulator learns of the page over its own socket, which may trail the QR by a moment.
    await waitFor(
      () => {
        try {
          sim.scan(qr, PHONE);
          return true;
        } catch {
          return undefined;
        }
      },
      'the simulator to know the page showing the QR',
      10_000,
    );
    await waitFor(async () => (await worker.session('m1'))?.status === 'connected', 'm1 connected', 45_000);

    const first = await scrape();
    expect(first.status).toBe(200);
    expect(first.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const lint = await promtoolCheckMetrics(first.text, dir);
    expect(lint).toEqual({ code: 0, output: '' });
    expect((await worker.health()).worker_id).toBe(WORKER_ID);
    expect(sample(first.text, 'wa_worker_info{version="0.1.0",worker_id="worker-under-test-1"}')).toBe(1);
    expect(sample(first.text, 'wa_worker_session_up{session_id="m1",workspace_id="w1"}')).toBe(1);
    expect(sample(first.text, 'wa_worker_session_reconnect_attempts{session_id="m1",workspace_id="w1"}')).toBe(0);
    expect(sample(first.text, 'wa_worker_sessions{status="connected"}')).toBe(1);
    expect(sample(first.text, 'wa_worker_sessions{status="failed"}')).toBe(0);
    expect(sample(first.text, 'wa_worker_capacity_max_sessions')).toBe(4);
    expect(sample(first.text, 'wa_worker_capacity_used_sessions')).toBe(1);
    expect(total(first.text, 'wa_worker_launch_duration_seconds_count', 'kind="start"', 'outcome="qr"')).toBe(1);
    expect(total(first.text, 'wa_worker_messages_received_total')).toBe(0);
    expect(total(first.text, 'wa_worker_reconnects_total')).toBe(0);
    expect(total(first.text, 'wa_worker_webhook_deliveries_total', 'event="session.status"', 'outcome="delivered"')).toBeGreaterThanOrEqual(3);
    expect(first.text).toMatch(/^wa_worker_process_resident_memory_bytes \d+/m);

    // A message the receiver refuses: retried, then given up.
    sim.sendMessage(PHONE, '5511988887777', 'hello metrics');
    const failed = await waitFor(
      async () => {
        const { text } = await scrape();
        return total(text, 'wa_worker_webhook_deliveries_total', 'event="message"', 'outcome="failed"') === 1 ? text : undefined;
      },
      'the message delivery given up',
      60_000,
    );
    expect(total(failed, 'wa_worker_messages_received_total', 'workspace_id="w1"')).toBe(1);
    expect(total(failed, 'wa_worker_webhook_deliveries_total', 'event="message"', 'outcome="retried"')).toBeGreaterThanOrEqual(1);
    expect(total(failed, 'wa_worker_webhook_deliveries_total', 'event="message"', 'outcome="delivered"')).toBe(0);

    // The phone takes the session elsewhere: the worker reconnects it.
    sim.setState(PHONE, 'CONFLICT');
    await waitFor(async () => (await worker.session('m1'))?.status !== 'connected', 'the drop seen', 30_000);
    await waitFor(async () => (await worker.session('m1'))?.status === 'connected', 'm1 reconnected', 60_000);
    const after = await scrape();
    expect(total(after.text, 'wa_worker_reconnects_total')).toBeGreaterThanOrEqual(1);
    expect(total(after.text, 'wa_worker_launch_duration_seconds_count', 'kind="reconnect"', 'outcome="ready"')).toBeGreaterThanOrEqual(1);
    expect(sample(after.text, 'wa_worker_session_up{session_id="m1",workspace_id="w1"}')).toBe(1);
    expect((await promtoolCheckMetrics(after.text, dir)).code).toBe(0);
  });

  it('takes the API key or the metrics token; no key or a wrong token is 401 and counts in the throttle; the token is never logged', async () => {
    expect((await scrape({})).status).toBe(401);
    expect((await scrape({ 'x-api-key': worker.apiKey })).status).toBe(200);
    expect((await scrape({ authorization: `Bearer ${METRICS_TOKEN}` })).status).toBe(200);
    // The token is no API key: it opens /metrics only.
    expect((await worker.api('GET', '/api/sessions', undefined, { 'x-api-key': METRICS_TOKEN })).status).toBe(401);
    expect((await worker.api('GET', '/api/sessions', undefined, { authorization: `Bearer ${METRICS_TOKEN}` })).status).toBe(401);
    const wrong = await scrape({ authorization: `Bearer ${METRICS_TOKEN}x` });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.text)).toMatchObject({ error: { code: 'unauthorized' } });
    // 10 failures a minute: the four above, then six more; the next is refused, the right token included.
    for (let i = 0; i < 6; i++) expect((await scrape({ authorization: `Bearer wrong-${i}` })).status).toBe(401);
    expect((await scrape({ authorization: `Bearer ${METRICS_TOKEN}` })).status).toBe(429);

    // The log is written asynchronously: its throttle line comes a moment later.
    const log = await waitFor(
      async () => {
        const text = await fs.readFile(path.join(dir, 'logs', 'whatsapp-service.log'), 'utf8');
        return text.includes('Failed API key attempts: address throttled') ? text : undefined;
      },
      'the throttle logged',
      10_000,
    );
    expect(log).toContain('"path":"/metrics"');
    expect(log).not.toContain(METRICS_TOKEN);
    expect(worker.output()).not.toContain(METRICS_TOKEN);
  });
});
