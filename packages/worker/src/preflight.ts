// `wa-worker --check`: the preflight, as `nginx -t`. Loaded by main.ts only with `--check`, so a
// normal start never pays for it (puppeteer, DNS). It runs with the worker's own environment and
// user, and checks what a start needs, one printed line per check.
import dns from 'node:dns/promises';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { lockSessionsDir, SessionsDirLockedError } from './browser/dir-lock';
import { findBrowserOnThisMachine } from './browser/discovery';
import { puppeteerOptions } from './browser/launch';
import type { WorkerConfig } from './config';
import { ConfigError, WorkerError } from './errors';
import { availableMemoryMb } from './sessions/capacity';
import { withTimeout } from './util/timeout';

/** The exit codes of the contract: all passed, one failed, the configuration is refused. */
export const PREFLIGHT_EXIT = { ok: 0, failed: 1, config: 2 } as const;

/** What one check found: `fix` says what to do when it failed. */
export interface CheckOutcome {
  ok: boolean;
  detail: string;
  fix?: string;
}

/** One check of the preflight; add one to {@link preflightChecks} and it is run and printed. */
export interface PreflightCheck {
  name: string;
  run(config: WorkerConfig): Promise<CheckOutcome>;
}

/**
 * The README's sizing rule until the configuration carries a session's memory: ~150 MiB of the
 * machine's memory per session, ~70 MiB for the worker itself.
 */
const SESSION_MEMORY_MB = 150;
const WORKER_MEMORY_MB = 70;

/** How long the browser may take to start, open a blank page and close (a cold start is ~1-4 s). */
const BROWSER_TIMEOUT_MS = 30_000;
const DNS_TIMEOUT_MS = 5_000;

const pass = (detail: string): CheckOutcome => ({ ok: true, detail });
const fail = (detail: string, fix: string): CheckOutcome => ({ ok: false, detail, fix });

/**
 * A folder the worker writes alone: created as the start would create it (0700), written to once,
 * owned by this user and closed to other users (it holds WhatsApp credentials or phone numbers).
 * A group may read the log folder (systemd's `LogsDirectoryMode=0750`, for an operators' group).
 */
function privateFolder(
  name: string,
  variable: string,
  dirOf: (config: WorkerConfig) => string,
  /** The start itself makes this folder 0700 (main.ts: folders of earlier versions were 0755), and so does the check. */
  tightenedAtStart = false,
): PreflightCheck {
  const forbidden = tightenedAtStart ? 0o077 : 0o007;
  return {
    name,
    async run(config) {
      const dir = dirOf(config);
      const user = os.userInfo().username;
      try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const probe = path.join(dir, `.wa-worker-check-${process.pid}`);
        fs.writeFileSync(probe, '', { mode: 0o600 });
        fs.rmSync(probe);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        return fail(`${dir} is not writable by ${user} (${code})`, `give ${user} the folder (chown ${user} ${dir}; chmod 700 ${dir}) or point ${variable} at one it owns`);
      }
      const stat = fs.statSync(dir);
      if (stat.uid !== process.getuid?.()) {
        return fail(`${dir} belongs to uid ${stat.uid}, not to ${user}`, `chown -R ${user} ${dir}: the worker must own it to keep it private`);
      }
      if ((stat.mode & forbidden) !== 0 && tightenedAtStart) {
        fs.chmodSync(dir, 0o700);
        return pass(`${dir} writable, made private (mode ${(stat.mode & 0o777).toString(8)} -> 700, as the start does)`);
      }
      if ((stat.mode & forbidden) !== 0) {
        return fail(`${dir} is open to other users (mode ${(stat.mode & 0o777).toString(8)})`, `chmod 750 ${dir} (or 700)`);
      }
      return pass(`${dir} writable, mode ${(stat.mode & 0o777).toString(8)}`);
    },
  };
}

const folderLock: PreflightCheck = {
  name: 'folder lock',
  async run(config) {
    try {
      // Taken by this short-lived process and released by the kernel when it exits.
      const { locked } = await lockSessionsDir(config.sessionsDir);
      return pass(locked ? `no other worker holds ${config.sessionsDir}` : 'flock(1) not found: the folder is not locked (not Linux?)');
    } catch (error) {
      if (error instanceof SessionsDirLockedError) return fail(error.message, 'stop the running worker first (this check is for a worker about to start)');
      throw error;
    }
  },
};

const browser: PreflightCheck = {
  name: 'browser',
  async run(config) {
    let choice;
    try {
      choice = await findBrowserOnThisMachine(config.executablePath);
    } catch (error) {
      if (error instanceof WorkerError) return fail('none to launch', error.message);
      throw error;
    }
    // puppeteer is loaded here only: it is what the worker launches its browsers with.
    const puppeteer = (await import('puppeteer')).default;
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-worker-check-'));
    try {
      const options = puppeteerOptions({ ...choice, sessionsDir: config.sessionsDir, extraArgs: config.browserArgs });
      const version = await withTimeout(
        (async () => {
          const launched = await puppeteer.launch({ ...options, userDataDir: profile, timeout: BROWSER_TIMEOUT_MS });
          try {
            const page = await launched.newPage();
            await page.evaluate('document.readyState');
            return await launched.version();
          } finally {
            await launched.close();
          }
        })(),
        BROWSER_TIMEOUT_MS,
        'the browser launch',
      );
      return pass(`${choice.executablePath} (${choice.source}) opened a blank page: ${version}${choice.warning ? ` (${choice.warning})` : ''}`);
    } catch (error) {
      // puppeteer's message carries the browser's own stderr after its first line: keep a bounded part.
      const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').slice(0, 400);
      return fail(
        `${choice.executablePath} (${choice.source}) did not start: ${reason}`,
        `run \`${choice.executablePath} --headless --dump-dom about:blank\` as ${os.userInfo().username} to see why (a HOME it cannot write, missing libraries, the sandbox)`,
      );
    } finally {
      fs.rmSync(profile, { recursive: true, force: true });
    }
  },
};

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;

const webhook: PreflightCheck = {
  name: 'webhook URL',
  async run(config) {
    if (!config.webhookUrl) return pass('none set (WHATSAPP_WEBHOOK_URL): no events are sent');
    const url = new URL(config.webhookUrl);
    if (url.protocol === 'http:' && !LOOPBACK.test(url.hostname)) {
      return fail(`${url.protocol}//${url.host} sends the events unencrypted off this host`, 'use an https:// URL');
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    try {
      const { address } = await withTimeout(dns.lookup(host), DNS_TIMEOUT_MS, `the DNS lookup of ${host}`);
      return pass(`${url.protocol}//${url.host} (${address})`);
    } catch (error) {
      return fail(`${url.host} does not resolve: ${(error as Error).message}`, 'check the host name of WHATSAPP_WEBHOOK_URL and this machine\'s DNS');
    }
  },
};

/** Memory the kernel gives this process at most: the machine's available memory, or less under a cgroup's `memory.max`. */
export function memoryForWorkerMb(): { mb: number; from: string } {
  const machine = availableMemoryMb();
  try {
    const group = /^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    if (group !== undefined) {
      const dir = path.join('/sys/fs/cgroup', group);
      const max = fs.readFileSync(path.join(dir, 'memory.max'), 'utf8').trim();
      if (max !== 'max') {
        const left = Math.floor((Number(max) - Number(fs.readFileSync(path.join(dir, 'memory.current'), 'utf8'))) / 1024 / 1024);
        if (left < machine) return { mb: left, from: 'left under the cgroup\'s memory.max' };
      }
    }
  } catch {
    // no cgroup v2 (or not Linux): the machine's figure
  }
  return { mb: machine, from: 'available' };
}

const memory: PreflightCheck = {
  name: 'memory',
  async run(config) {
    const sessions = config.maxSessions ?? 1;
    const needed = config.minFreeMemoryMb + WORKER_MEMORY_MB + sessions * SESSION_MEMORY_MB;
    const { mb, from } = memoryForWorkerMb();
    const what = config.maxSessions ? `WHATSAPP_MAX_SESSIONS=${config.maxSessions}` : '1 session (no WHATSAPP_MAX_SESSIONS)';
    const rule = `${what} x ${SESSION_MEMORY_MB} MiB + the worker's ${WORKER_MEMORY_MB} MiB + WHATSAPP_MIN_FREE_MEMORY_MB=${config.minFreeMemoryMb} = ${needed} MiB`;
    if (mb < needed) {
      const fits = Math.max(0, Math.floor((mb - config.minFreeMemoryMb - WORKER_MEMORY_MB) / SESSION_MEMORY_MB));
      return fail(`${mb} MiB ${from}, under ${rule}`, `free memory, or set WHATSAPP_MAX_SESSIONS=${fits} or less`);
    }
    return pass(`${mb} MiB ${from}, enough for ${rule}`);
  },
};

/** Every check, in the order a start meets them. */
export const preflightChecks: readonly PreflightCheck[] = [
  privateFolder('sessions folder', 'WHATSAPP_SESSIONS_DIR', (config) => config.sessionsDir, true),
  privateFolder('log folder', 'LOG_DIR', (config) => config.logDir),
  folderLock,
  browser,
  webhook,
  memory,
];

/** Runs the preflight, printing one line per check to `out`; resolves with the exit code. */
export async function runPreflight(env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  let config: WorkerConfig;
  try {
    const { loadConfig } = require('./config') as typeof import('./config');
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    out(`FAIL configuration: ${error.message}`);
    out('wa-worker --check: the configuration is refused; nothing else was checked');
    return PREFLIGHT_EXIT.config;
  }
  out('ok   configuration: every variable is valid');
  let failed = 0;
  for (const check of preflightChecks) {
    let outcome: CheckOutcome;
    try {
      outcome = await check.run(config);
    } catch (error) {
      outcome = fail(error instanceof Error ? error.message : String(error), 'see the message');
    }
    if (outcome.ok) {
      out(`ok   ${check.name}: ${outcome.detail}`);
    } else {
      failed += 1;
      out(`FAIL ${check.name}: ${outcome.detail} -> ${outcome.fix}`);
    }
  }
  const total = preflightChecks.length + 1;
  out(failed === 0 ? `wa-worker --check: all ${total} checks passed` : `wa-worker --check: ${failed} of ${total} checks failed`);
  return failed === 0 ? PREFLIGHT_EXIT.ok : PREFLIGHT_EXIT.failed;
}
