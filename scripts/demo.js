#!/usr/bin/env node
/**
 * `npm run demo`: the whole system on one machine, with no Postgres and no phone.
 *
 * It starts the simulated WhatsApp Web (in this process), a webhook receiver (in this process),
 * the built wa-worker (a child process) and uses the built wa-sync CLI on its embedded database.
 * It pairs three numbers in two workspaces, shows messages arriving, kills the worker as a crash
 * would, runs the sync as cron would, and shows the healing. Everything it starts is ended when
 * it finishes, fails, or is interrupted (Ctrl-C). Its files live in `.demo/` (recreated each run).
 */
'use strict';

const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const WORK = path.join(ROOT, '.demo');
const TEST_SUPPORT = path.join(ROOT, 'packages', 'test-support', 'dist', 'index.js');
const WORKER_BIN = path.join(ROOT, 'packages', 'worker', 'dist', 'main.js');
const CLI_BIN = path.join(ROOT, 'packages', 'cli', 'dist', 'wa-sync.js');
const SIMULATOR = path.join(ROOT, 'packages', 'simulator', 'dist', 'index.js');

const ACCOUNTS = [
  { session_id: 'acme-sales', workspace_id: '1', phone: '6281200001001', customer: '628777000101' },
  { session_id: 'acme-support', workspace_id: '1', phone: '6281200001002', customer: '628777000102' },
  { session_id: 'globex-cs', workspace_id: '2', phone: '6281200002001', customer: '628777000201' },
];

const colour = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (text) => (colour ? `\u001b[${code}m${text}\u001b[0m` : String(text));
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const yellow = paint('33');
const cyan = paint('36');
const red = paint('31');

const started = Date.now();
let stepNumber = 0;
const STEPS = 8;
function step(title) {
  stepNumber += 1;
  console.log(`\n${bold(cyan(`[${stepNumber}/${STEPS}]`))} ${bold(title)} ${dim(`(+${((Date.now() - started) / 1000).toFixed(1)} s)`)}`);
}
const say = (text) => console.log(`      ${text}`);
const indent = (text) => text.replace(/\s+$/, '').split('\n').map((line) => `      ${dim('│')} ${line}`).join('\n');

// ------------------------------------------------------------------ what this process started

// Built with the packages (`npm run build`); checked in main() before anything is started.
const support = () => require(TEST_SUPPORT);

const processes = new Set(); // the worker and the wa-sync runs this process started
let simulator;
let receiver;
const interrupted = new AbortController();

async function cleanup() {
  await Promise.all([...processes].map((proc) => proc.stop(15_000)));
  if (receiver) await receiver.close();
  if (simulator) await simulator.stop().catch(() => {});
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted.signal.aborted) return;
    interrupted.abort();
    console.log(`\n${yellow('Interrupted: stopping the worker and the simulator...')}`);
    cleanup().finally(() => process.exit(130));
  });
}

function waitFor(what, probe, timeoutMs = 120_000) {
  return support().waitFor(probe, what, { timeoutMs, intervalMs: 150, signal: interrupted.signal });
}

function track(proc) {
  processes.add(proc);
  void proc.exited.then(() => processes.delete(proc));
  return proc;
}

// ------------------------------------------------------------------ worker and CLI processes

const API_KEY = randomBytes(24).toString('hex');
let worker;

async function startWorker(env) {
  const { simulatedWorkerEnv, startWorker } = support();
  worker = await startWorker({
    apiKey: API_KEY,
    baseEnv: process.env,
    signal: interrupted.signal,
    // Straight into the file: a worker left behind by a killed demo keeps a working stdout.
    logFile: path.join(WORK, 'worker.out'),
    env: {
      ...simulatedWorkerEnv(simulator, { sessionsDir: path.join(WORK, 'sessions'), logDir: path.join(WORK, 'logs') }),
      HOST: '127.0.0.1', // it inherits this shell's environment, which may name another HOST
      WHATSAPP_WEBJS_HEALTH_CHECK_INTERVAL: '5',
      ...receiver.workerEnv(),
      ...env,
    },
  });
  track(worker);
  say(`wa-worker pid ${worker.pid} listening on ${worker.url}`);
}

async function killWorker(signal) {
  if (worker) await worker.kill(signal);
}

async function waitForStatus(id, status, timeoutMs) {
  return waitFor(`${id} to be ${status}`, async () => ((await worker.session(id))?.status === status ? true : undefined), timeoutMs);
}

/** Runs `wa-sync` on the embedded database as cron would, and shows its report. */
async function wasync(args, { show = true } = {}) {
  const run = track(
    support().startCli(
      args,
      {
        DATABASE_URL: '',
        WA_SYNC_DATA_DIR: path.join(WORK, 'pglite'),
        WA_SYNC_AUDIT_LOG: path.join(WORK, 'logs', 'wa-sync-audit.log'),
        WHATSAPP_NODE_SERVICE_URL: worker ? worker.url : '',
        WHATSAPP_NODE_API_KEY: API_KEY,
        ...(colour ? { FORCE_COLOR: '1' } : { NO_COLOR: '1' }),
      },
      { baseEnv: process.env, signal: interrupted.signal },
    ),
  );
  const { code } = await run.done;
  const output = run.output();
  if (show && !interrupted.signal.aborted) {
    console.log(`      ${dim('$')} wa-sync ${args.join(' ')}`);
    console.log(indent(output));
    console.log(`      ${dim(`exit code ${code}`)}`);
  }
  return { code, output };
}

// ------------------------------------------------------------------ the story

const messages = [];

async function insertAccounts() {
  // The application that owns the accounts inserts rows with just these two columns (the
  // contract gives every other column a default). wa-sync's library opens the embedded
  // database under the same file lock the CLI takes, so the two never share it.
  const { openDatabase } = require(path.join(ROOT, 'packages', 'cli', 'dist', 'index.js'));
  const dataDir = path.join(WORK, 'pglite');
  const db = await openDatabase({ kind: 'embedded', dataDir, label: dataDir });
  try {
    await db.knex('whatsapp_accounts').insert(ACCOUNTS.map(({ workspace_id, session_id }) => ({ workspace_id, session_id })));
  } finally {
    await db.close();
  }
}

function showQr(qr) {
  const qrcode = require('qrcode-terminal');
  return new Promise((resolve) => qrcode.generate(qr, { small: true }, (text) => resolve(text)));
}

async function main() {
  for (const [what, file] of [['the worker', WORKER_BIN], ['the CLI', CLI_BIN], ['the simulator', SIMULATOR], ['the test support', TEST_SUPPORT]]) {
    if (!fs.existsSync(file)) throw new Error(`${what} is not built (${path.relative(ROOT, file)} is missing): run \`npm run build\` first`);
  }
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(path.join(WORK, 'logs'), { recursive: true });

  step('Starting the simulated WhatsApp Web, a webhook receiver and the embedded database');
  simulator = await support().startSimulator();
  say(`simulated https://web.whatsapp.com/ on 127.0.0.1:${simulator.port} (Chromium is sent there by ${dim('--host-resolver-rules')})`);
  receiver = await support().startWebhookReceiver({
    onEvent: ({ event, signatureValid }) => {
      if (event.event !== 'message') return;
      messages.push(event);
      say(`${green('webhook')} ${event.workspace_id}/${event.session_id} ← ${event.payload.from}: "${event.payload.body}" ${signatureValid ? dim('(signature valid)') : red('(BAD SIGNATURE)')}`);
    },
  });
  say(`webhook receiver on ${new URL(receiver.url).host}`);
  const migrated = await wasync(['migrate'], { show: false });
  if (migrated.code !== 0) throw new Error(`wa-sync migrate failed:\n${migrated.output}`);
  await insertAccounts();
  say(`embedded Postgres (PGlite) in ${path.relative(ROOT, path.join(WORK, 'pglite'))}: ${ACCOUNTS.length} accounts in workspaces 1 and 2`);

  step('Starting wa-worker and pairing each number by QR');
  await startWorker({});
  for (const account of ACCOUNTS) {
    const created = await worker.api('POST', '/api/sessions', { session_id: account.session_id, workspace_id: account.workspace_id });
    if (created.status !== 201 && created.status !== 200) throw new Error(`POST /api/sessions answered ${created.status}: ${JSON.stringify(created.json)}`);
    const qr = await waitFor(`a QR for ${account.session_id}`, async () => (await worker.session(account.session_id))?.qr);
    say(`${bold(account.session_id)} (workspace ${account.workspace_id}) shows this QR; the simulated phone +${account.phone} scans it:`);
    console.log((await showQr(qr)).split('\n').map((line) => `        ${line}`).join('\n'));
    simulator.scan(qr, account.phone);
    await waitForStatus(account.session_id, 'connected');
    say(`${green('connected')} as +${account.phone}`);
  }

  step('Syncing the database with the worker (the cron job), then customers write in');
  await wasync(['sync-sessions', '--auto-reconnect']);
  for (const account of ACCOUNTS) simulator.sendMessage(account.phone, account.customer, `Halo ${account.session_id}, pesanan saya sudah dikirim?`);
  await waitFor('the messages at the webhook', () => messages.length >= ACCOUNTS.length, 20_000);

  step('The worker crashes (SIGKILL); cron runs the sync while it is down');
  await killWorker('SIGKILL');
  say(`${red('killed')} wa-worker: every session it held is gone from memory`);
  await wasync(['sync-sessions', '--auto-reconnect']);
  say(dim('the sync refuses to guess: exit 1, and the database is left as it was'));

  step("The worker comes back without its sessions (the seed's old failure: nothing listens)");
  await startWorker({ WHATSAPP_RESTORE_ON_START: 'false' });
  say(`the worker reports ${(await worker.sessions()).length} sessions, the database still says connected`);
  await wasync(['sync-sessions', '--dry-run']);

  step('Cron runs `wa-sync sync-sessions --auto-reconnect`: the truth first, then the healing');
  await wasync(['sync-sessions', '--auto-reconnect']);
  for (const account of ACCOUNTS) await waitForStatus(account.session_id, 'connected');
  say(`${green('all sessions connected again')} from their saved auth, without a QR`);
  await wasync(['sync-sessions', '--auto-reconnect']);
  const before = messages.length;
  simulator.sendMessage(ACCOUNTS[0].phone, ACCOUNTS[0].customer, 'Masih ada yang baca chat ini?');
  await waitFor('the message at the webhook', () => messages.length > before, 20_000);

  step('A crash with the worker restoring by itself (the default): healed before cron even runs');
  await killWorker('SIGKILL');
  const restartedAt = Date.now();
  await startWorker({});
  for (const account of ACCOUNTS) await waitForStatus(account.session_id, 'connected');
  say(`${green('all sessions restored')} ${((Date.now() - restartedAt) / 1000).toFixed(1)} s after the restart`);
  await wasync(['sync-sessions', '--auto-reconnect']);

  step('Stopping everything');
  await killWorker('SIGTERM');
  say(`wa-worker stopped (exit on SIGTERM, sessions kept for the next start)`);
  await cleanup();
  say(`logs: ${path.relative(ROOT, path.join(WORK, 'logs'))}/ (worker: whatsapp-service.log, sync audit: wa-sync-audit.log)`);
  console.log(`\n${green(bold('Demo finished'))} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
}

main().catch(async (error) => {
  if (interrupted.signal.aborted) return;
  interrupted.abort();
  console.error(`\n${red('Demo failed:')} ${error.message}`);
  const out = path.join(WORK, 'worker.out');
  if (fs.existsSync(out)) console.error(dim(`last worker output (${path.relative(ROOT, out)}):\n`) + fs.readFileSync(out, 'utf8').split('\n').slice(-15).join('\n'));
  await cleanup();
  process.exit(1);
});
