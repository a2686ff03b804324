import fs from 'node:fs';
import path from 'node:path';
import { closedPortUrl, healthDocument, runScript, StandIn, tempDir, type Answer } from './support';

const SCRIPT = 'check-worker-health.sh';

describe('check-worker-health.sh', () => {
  let worker: StandIn;
  let reply: Answer;
  let dir: string;

  beforeAll(async () => {
    worker = await StandIn.start((req) => (req.url === '/health' ? reply : { status: 404, body: {} }));
    dir = await tempDir();
  });
  afterAll(async () => {
    await worker.stop();
    await fs.promises.rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    reply = { status: 200, body: healthDocument() };
  });

  it('prints one OK line with uptime, version and session counts, and exits 0', async () => {
    const run = await runScript(SCRIPT, ['--url', worker.url]);

    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `OK: wa-worker at ${worker.url} is up (uptime 1390s, version 0.1.0): 3 sessions, 2 connected, 1 reconnecting\n`,
    );
    expect(run.stderr).toBe('');
  });

  it('asks GET /health without any API key', async () => {
    const before = worker.requests.length;
    await runScript(SCRIPT, ['--url', `${worker.url}/`], { WHATSAPP_NODE_API_KEY: 'not-for-health' });

    const seen = worker.requests.slice(before);
    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /health']);
    expect(seen[0]!.headers['x-api-key']).toBeUndefined();
  });

  it('prints the health document as one JSON object with --json', async () => {
    const run = await runScript(SCRIPT, ['--url', worker.url, '--json']);

    expect(run.code).toBe(0);
    const verdict = JSON.parse(run.stdout);
    expect(verdict).toMatchObject({ ok: true, url: worker.url, health: healthDocument() });
    expect(Number.isNaN(Date.parse(verdict.checked_at))).toBe(false);
  });

  it('uses WHATSAPP_NODE_SERVICE_URL when no --url is given', async () => {
    const run = await runScript(SCRIPT, [], { WHATSAPP_NODE_SERVICE_URL: worker.url });

    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`OK: wa-worker at ${worker.url}`);
  });

  it('reads the URL from --env-file', async () => {
    const envFile = path.join(dir, 'worker.env');
    await fs.promises.writeFile(envFile, `# comment\nWHATSAPP_NODE_SERVICE_URL=${worker.url}\n`);

    const run = await runScript(SCRIPT, ['--env-file', envFile]);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`at ${worker.url} is up`);
  });

  it('fails with exit 1 naming the status when /health answers an error', async () => {
    reply = { status: 503, body: { error: { code: 'unavailable', message: 'no' } } };

    const run = await runScript(SCRIPT, ['--url', worker.url]);

    expect(run.code).toBe(1);
    expect(run.stdout).toBe(`FAIL: wa-worker at ${worker.url} answered HTTP 503 on /health\n`);
  });

  it('fails when something that is not the worker answers on the port', async () => {
    reply = { status: 200, body: '<html>welcome to nginx</html>' };

    const run = await runScript(SCRIPT, ['--url', worker.url]);

    expect(run.code).toBe(1);
    expect(run.stdout).toContain('did not answer a wa-worker health document');
  });

  it('fails with exit 1 and the reason when nothing listens', async () => {
    const url = await closedPortUrl();

    const line = await runScript(SCRIPT, ['--url', url]);
    const json = await runScript(SCRIPT, ['--url', url, '--json']);

    expect(line.code).toBe(1);
    expect(line.stdout).toBe(`FAIL: wa-worker at ${url} is unreachable (ECONNREFUSED)\n`);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, url, error: 'is unreachable (ECONNREFUSED)' });
  });

  it('gives up after --timeout seconds when the worker never answers', async () => {
    reply = 'hang';

    const run = await runScript(SCRIPT, ['--url', worker.url, '--timeout', '1']);

    expect(run.code).toBe(1);
    expect(run.stdout).toBe(`FAIL: wa-worker at ${worker.url} did not answer /health within 1s\n`);
  });

  it('prints nothing with --quiet; the exit code is the verdict', async () => {
    const up = await runScript(SCRIPT, ['--url', worker.url, '--quiet']);
    const down = await runScript(SCRIPT, ['--url', await closedPortUrl(), '--quiet']);

    expect([up.code, up.stdout]).toEqual([0, '']);
    expect([down.code, down.stdout]).toEqual([1, '']);
  });

  it('refuses a URL that carries credentials or a query, without echoing it', async () => {
    const withPassword = await runScript(SCRIPT, ['--url', 'http://admin:hunter2@127.0.0.1:3001']);
    const withKey = await runScript(SCRIPT, [], { WHATSAPP_NODE_SERVICE_URL: 'http://127.0.0.1:3001/?api_key=hunter2' });

    expect(withPassword.code).toBe(2);
    expect(withPassword.stderr).toContain('must not carry credentials');
    expect(withKey.code).toBe(2);
    expect(withKey.stderr).toContain('must not carry a query');
    expect(withPassword.stdout + withPassword.stderr + withKey.stdout + withKey.stderr).not.toContain('hunter2');
  });

  it('rejects bad usage with exit 2 and a clear message', async () => {
    const badUrl = await runScript(SCRIPT, ['--url', 'ftp://example.com']);
    const unknown = await runScript(SCRIPT, ['--verbose']);
    const badTimeout = await runScript(SCRIPT, ['--url', worker.url, '--timeout', 'soon']);
    const missingFile = await runScript(SCRIPT, ['--env-file', path.join(dir, 'missing.env')]);

    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('not an http(s) URL: ftp://example.com');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown argument: --verbose');
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toContain('--timeout must be a whole number of seconds');
    expect(missingFile.code).toBe(2);
    expect(missingFile.stderr).toContain('cannot read env file');
  });
});
