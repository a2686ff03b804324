#!/usr/bin/env node
import { runCli } from './cli';

void runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr }).then((code) => {
  if (process.env.WA_SYNC_REPORT_MAX_RSS === '1') {
    process.stderr.write(`wa-sync: peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MB\n`);
  }
  process.exitCode = code;
});
