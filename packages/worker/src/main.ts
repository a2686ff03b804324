#!/usr/bin/env node
// The entry point stays light: configuration and the earlier worker's browsers are dealt with
// before the rest of the worker (Fastify, whatsapp-web.js, ~200 ms of modules) is loaded.
import fs from 'node:fs';
import nodeModule from 'node:module';
import path from 'node:path';

import { lockSessionsDir, SessionsDirLockedError, SessionsDirUnlockableError, type SessionsDirLock } from './browser/dir-lock';
import { defaultCacheDir, findBrowserOnThisMachine, type BrowserChoice } from './browser/discovery';
import { markerArg } from './browser/launch';
import { findProcesses, reapOrphans } from './browser/orphans';
import { lowerSessionPriority } from './browser/priority';
import type { WorkerConfig } from './config';
import { WorkerError } from './errors';

// Node 22.1+ keeps the compiled code of the modules it loads on disk: the worker's ~300 ms of
// module loading (Fastify, TypeBox, whatsapp-web.js, puppeteer) shrinks on every start after the
// first. Node 20 has no such cache; there this is a no-op.
(nodeModule as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache?.(path.join(defaultCacheDir(), 'compile-cache'));

/**
 * Niceness given at once to the Chromium an earlier worker left behind: after a crash they are
 * still closing (about 0.1 CPU-s each) while this worker starts, and would slow its start twofold.
 */
const ORPHAN_NICE = 19;

/** How long one of them may keep a store of its profile open before it is killed anyway (hung). */
const ORPHAN_GRACE_MS = 5000;

function fail(message: string): never {
  process.stderr.write(`wa-worker: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  // Session folders hold WhatsApp credentials, the logs phone numbers: nothing this process
  // creates is readable by other users (folders 0700, files 0600).
  process.umask(0o077);

  // A bad configuration exits 2 having touched nothing (parsing it takes ~2 ms), from the process
  // the operator started: it is checked before secrets given in the environment are moved out.
  let config: WorkerConfig;
  let browser: BrowserChoice;
  try {
    const { loadConfig } = require('./config') as typeof import('./config');
    const handover = require('./secrets-handover') as typeof import('./secrets-handover');
    config = loadConfig({ ...process.env, ...(await handover.receiveSecrets()) });
    const secrets = handover.secretsIn(process.env);
    if (Object.keys(secrets).length > 0) await handover.superviseWithoutSecrets(secrets);
    // Found by the process that runs the worker (after the handover): a bundled browser repaired
    // on the way is then logged by the worker that launches it (its exit 2 reaches the supervisor).
    browser = await findBrowserOnThisMachine(config.executablePath);
  } catch (error) {
    if (error instanceof WorkerError) fail(error.message);
    throw error;
  }

  // Before anything touches the folder or its browsers: one worker per sessions folder. A second
  // one (a second container, a manual run beside the service) stops here, exit 1, changing nothing;
  // so does a worker that cannot lock the folder (no flock, a planted lock file).
  let lock: SessionsDirLock;
  try {
    lock = await lockSessionsDir(config.sessionsDir);
  } catch (error) {
    if (error instanceof SessionsDirLockedError || error instanceof SessionsDirUnlockableError) {
      process.stderr.write(`wa-worker: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  // Folders made by an earlier version were 0755.
  fs.chmodSync(config.sessionsDir, 0o700);

  // The earlier worker's browsers (this one holds the folder, so their worker is gone) yield at
  // once, and each is killed once its stores are closed (its profile saved), not before: see
  // reapOrphans. A launch on a profile still held waits for it. Only those carrying the token
  // that worker wrote in the lock file: never a process of anyone else naming the folder.
  const orphans = lock.previousToken ? findProcesses([markerArg(config.sessionsDir, lock.previousToken)]) : [];
  await Promise.all(orphans.map((orphan) => lowerSessionPriority(orphan.pid, ORPHAN_NICE)));
  const reaped = reapOrphans(orphans, { graceMs: ORPHAN_GRACE_MS });

  // Required here, not imported at the top: a top-level import would load it first.
  const { runWorker } = require('./service') as typeof import('./service');
  await runWorker(config, browser, { pids: orphans.map((o) => o.pid), reaped }, lock);
}

/**
 * `--check`: the preflight alone (preflight.ts, loaded only then); no worker starts. Secrets given
 * in the environment are moved out first, as for a start: the check launches a browser too.
 */
async function check(): Promise<void> {
  process.umask(0o077);
  const handover = require('./secrets-handover') as typeof import('./secrets-handover');
  const env = { ...process.env, ...(await handover.receiveSecrets()) };
  const secrets = handover.secretsIn(process.env);
  if (Object.keys(secrets).length > 0) await handover.superviseWithoutSecrets(secrets);
  const { runPreflight } = require('./preflight') as typeof import('./preflight');
  process.exit(await runPreflight(env, (line) => process.stdout.write(`${line}\n`)));
}

const run = process.argv.includes('--check') ? check : main;

run().catch((error: unknown) => {
  process.stderr.write(`wa-worker: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
