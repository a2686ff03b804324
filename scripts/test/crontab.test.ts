import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fakeWaSync, healthDocument, SCRIPTS_DIR, StandIn, tempDir } from './support';

const CRONTAB = path.join(SCRIPTS_DIR, '..', 'crontab.example');
const CHECKOUT = '/opt/wa-session-sync';
const LOG_DIR = '/var/log/wa-sync';
const FIELD = '[0-9*/,-]+';

interface Job {
  schedule: string;
  command: string;
  commentedOut: boolean;
}

/** The environment lines and the job lines (active, and the examples commented out with "# "). */
function parseCrontab(text: string): { env: Record<string, string>; jobs: Job[] } {
  const env: Record<string, string> = {};
  const jobs: Job[] = [];
  const jobLine = new RegExp(`^(# )?(${FIELD} ${FIELD} ${FIELD} ${FIELD} ${FIELD}) (.+)$`);
  for (const line of text.split('\n')) {
    const job = jobLine.exec(line);
    if (job) {
      jobs.push({ schedule: job[2]!, command: job[3]!, commentedOut: job[1] !== undefined });
      continue;
    }
    const variable = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (variable) env[variable[1]!] = variable[2]!.replace(/^"(.*)"$/, '$1');
  }
  return { env, jobs };
}

/** What cron does with a job: `\%` becomes `%` (a bare `%` would end the command), run by $SHELL -c. */
function runLikeCron(command: string, env: Record<string, string>, home: string): Promise<number | null> {
  const shellCommand = command.replace(/\\%/g, '%');
  // The test machine's node may live outside the crontab's PATH; that is the operator's note to act on.
  const pathWithNode = `${env.PATH}:${path.dirname(process.execPath)}`;
  return new Promise((resolve, reject) => {
    const child = spawn(env.SHELL ?? '/bin/sh', ['-c', shellCommand], {
      cwd: home,
      env: { ...env, PATH: pathWithNode, HOME: home },
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

describe('crontab.example', () => {
  const text = fs.readFileSync(CRONTAB, 'utf8');
  const { env, jobs } = parseCrontab(text);
  let dir: string;
  let install: string;
  let logs: string;
  let worker: StandIn;
  let waSync: Awaited<ReturnType<typeof fakeWaSync>>;

  /** The job with its paths moved into this test's temp folders. */
  const localized = (job: Job) => job.command.replaceAll(CHECKOUT, install).replaceAll(LOG_DIR, logs);
  const cronEnv = () =>
    Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replaceAll(LOG_DIR, logs).replaceAll(CHECKOUT, install)]));
  const readLog = (name: string) => fs.promises.readFile(path.join(logs, name), 'utf8');

  beforeAll(async () => {
    dir = await tempDir();
    install = path.join(dir, 'checkout');
    logs = path.join(dir, 'log');
    const home = path.join(dir, 'home');
    await Promise.all([logs, home, path.join(install, 'packages', 'cli', 'bin')].map((d) => fs.promises.mkdir(d, { recursive: true })));
    worker = await StandIn.start(() => ({ status: 200, body: healthDocument() }));
    waSync = await fakeWaSync(dir, { stdout: 'Mismatches found: 0\n' });
    await fs.promises.symlink(waSync.bin, path.join(install, 'packages', 'cli', 'bin', 'wa-sync.js'));
    await fs.promises.symlink(SCRIPTS_DIR, path.join(install, 'scripts'));
    await fs.promises.writeFile(
      path.join(install, '.env.sync'),
      [
        'WHATSAPP_NODE_API_KEY=cron-test-key',
        `WHATSAPP_NODE_SERVICE_URL=${worker.url}`,
        'DATABASE_URL=postgres://wa:pw@127.0.0.1:5432/wa_sync',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await worker.stop();
    await fs.promises.rm(dir, { recursive: true, force: true });
  });

  it('sets SHELL and PATH, and escapes every % of every job', () => {
    expect(env.SHELL).toBe('/bin/sh');
    expect(env.PATH!.split(':')).toEqual(expect.arrayContaining(['/usr/local/bin', '/usr/bin', '/bin']));
    expect(jobs.length).toBeGreaterThanOrEqual(4);
    for (const job of jobs) expect(job.command.replace(/\\%/g, '')).not.toContain('%');
  });

  it('runs the five-minute sync from the checkout with .env.sync loaded and appends a framed run to its log', async () => {
    const [sync] = jobs.filter((j) => !j.commentedOut);
    expect(sync!.schedule).toBe('*/5 * * * *');
    const before = (await waSync.calls()).length;

    const code = await runLikeCron(localized(sync!), cronEnv(), path.join(dir, 'home'));

    expect(code).toBe(0);
    const [call] = (await waSync.calls()).slice(before);
    expect(call!.args).toEqual(['sync-sessions', '--auto-reconnect']);
    expect(call!.env).toMatchObject({
      DATABASE_URL: 'postgres://wa:pw@127.0.0.1:5432/wa_sync',
      WHATSAPP_NODE_API_KEY: 'cron-test-key',
      WA_SYNC_AUDIT_LOG: path.join(logs, 'wa-sync-audit.log'),
      NO_COLOR: '1',
    });
    expect(await readLog('wa-sync-cron.log')).toMatch(
      /^=== \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ sync-sessions\nMismatches found: 0\n=== exit 0\n$/,
    );
  });

  it('gives each workspace its own staggered line and log', async () => {
    const perWorkspace = jobs.filter((j) => j.commentedOut && j.command.includes('--workspace='));
    expect(perWorkspace.map((j) => j.schedule.split(' ')[0])).toEqual(['1-59/5', '2-59/5']);
    const before = (await waSync.calls()).length;

    for (const job of perWorkspace) expect(await runLikeCron(localized(job), cronEnv(), path.join(dir, 'home'))).toBe(0);

    const calls = (await waSync.calls()).slice(before);
    expect(calls.map((c) => c.args)).toEqual([
      ['sync-sessions', '--workspace=1', '--auto-reconnect'],
      ['sync-sessions', '--workspace=2', '--auto-reconnect'],
    ]);
    expect(await readLog('wa-sync-cron-workspace-1.log')).toMatch(/ workspace 1\nMismatches found: 0\n=== exit 0\n$/);
    expect(await readLog('wa-sync-cron-workspace-2.log')).toMatch(/ workspace 2\nMismatches found: 0\n=== exit 0\n$/);
  });

  it('appends one JSON health verdict per minute with the health line', async () => {
    const health = jobs.find((j) => j.command.includes('check-worker-health.sh'));
    expect(health!.schedule).toBe('* * * * *');

    expect(await runLikeCron(localized(health!), cronEnv(), path.join(dir, 'home'))).toBe(0);

    const verdict = JSON.parse(await readLog('worker-health.log'));
    expect(verdict).toMatchObject({ ok: true, url: worker.url });
  });

  it('logs a wrong checkout path instead of losing it', async () => {
    const [sync] = jobs.filter((j) => !j.commentedOut);
    const wrong = localized(sync!).replace(install, path.join(dir, 'no-such-checkout'));
    await fs.promises.rm(path.join(logs, 'wa-sync-cron.log'), { force: true });

    await runLikeCron(wrong, cronEnv(), path.join(dir, 'home'));

    const log = await readLog('wa-sync-cron.log');
    expect(log).toContain('no-such-checkout');
    expect(log).toMatch(/=== exit [1-9]\d*\n$/);
  });
});
