#!/usr/bin/env node
// The entry point stays light: configuration and the earlier worker's browsers are dealt with
// before the rest of the worker (Fastify, whatsapp-web.js, ~200 ms of modules) is loaded.
import { findChromium, markerArg } from './browser/launch';
import { findProcesses } from './browser/orphans';
import { lowerSessionPriority } from './browser/priority';
import type { WorkerConfig } from './config';
import { WorkerError } from './errors';
import { sessionsDirFromEnv } from './paths';

/**
 * Niceness given at once to the Chromium an earlier worker left behind: after a crash they are
 * still closing (about 0.1 CPU-s each) while this worker starts, and would slow its start twofold.
 */
const ORPHAN_NICE = 19;

function fail(message: string): never {
  process.stderr.write(`wa-worker: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  // First of all, before even the configuration's validator is loaded: the earlier worker's
  // browsers yield. Not killed: they save their profiles as they close (a restore waits for the
  // one on its profile; the rest are killed after a grace, see service.ts).
  const orphans = findProcesses([markerArg(sessionsDirFromEnv())]);
  await Promise.all(orphans.map((orphan) => lowerSessionPriority(orphan.pid, ORPHAN_NICE)));

  let config: WorkerConfig;
  let executablePath: string;
  try {
    const { loadConfig } = require('./config') as typeof import('./config');
    config = loadConfig();
    executablePath = findChromium(config.executablePath);
  } catch (error) {
    if (error instanceof WorkerError) fail(error.message);
    throw error;
  }

  // Required here, not imported at the top: a top-level import would load it first.
  const { runWorker } = require('./service') as typeof import('./service');
  await runWorker(config, executablePath, orphans);
}

main().catch((error: unknown) => {
  process.stderr.write(`wa-worker: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
