#!/usr/bin/env node
import nodeModule from 'node:module';
import path from 'node:path';
import { runCli } from './cli';

// Node 22.1+ keeps the compiled code of the modules it loads on disk, in the cache folder the
// worker uses too. Node 20 has no such cache; there this is a no-op. A cache of our own for Node 20
// (V8 code cache data through vm.Script) was measured and dropped: ~20 ms of the handlers' bundle
// load, for a module loader written by hand for a Node line past its end of life.
const { enableCompileCache } = nodeModule as { enableCompileCache?: (dir: string) => unknown };
if (enableCompileCache) {
  const cache = process.env.XDG_CACHE_HOME || path.join(process.env.HOME || (require('node:os') as typeof import('node:os')).homedir(), '.cache');
  enableCompileCache(path.join(cache, 'wa-session-sync', 'compile-cache'));
}

// A reader that stops reading (`wa-sync sync-sessions --json | head`) is not a failure of the run:
// what the run did stands, and its exit code with it. Without this, the EPIPE of the next write
// crashes the process with a stack trace and exit 1.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

void runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr }).then((code) => {
  if (process.env.WA_SYNC_REPORT_MAX_RSS === '1') {
    process.stderr.write(`wa-sync: peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MB\n`);
  }
  process.exitCode = code;
});
