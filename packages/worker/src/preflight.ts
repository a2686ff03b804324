// `wa-worker --check`: the preflight, as `nginx -t`. Loaded by main.ts only with `--check`, so a
// normal start never pays for it (puppeteer, DNS). It runs with the worker's own environment and
// user, and checks what a start needs, one printed line per check.
import dns from 'node:dns/promises';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { lockSessionsDir, SessionsDirLockedError, SessionsDirUnlockableError } from './browser/dir-lock';
import { findBrowserOnThisMachine } from './browser/discovery';
import { markerArg, puppeteerOptions } from './browser/launch';
import { sandboxOnThisMachine } from './browser/sandbox';
import { isLoopbackHost, type WorkerConfig } from './config';
import { ConfigError, WorkerError } from './errors';
import { availableMemoryMb, defaultMaxSessions, totalMemoryMb } from './sessions/capacity';
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

/** The worker process itself, besides its sessions (`npm run bench:worker`: ~70 MiB; BENCHMARKS.md). */
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
      // Taken by this short-lived process and released by the kernel when it exits; the holder and
      // token the last worker wrote are left for the start that follows.
      await lockSessionsDir(config.sessionsDir, { probe: true });
      return pass(`no other worker holds ${config.sessionsDir}`);
    } catch (error) {
      if (error instanceof SessionsDirLockedError) return fail(error.message, 'stop the running worker first (this check is for a worker about to start)');
      if (error instanceof SessionsDirUnlockableError) return fail(error.message, 'see the message');
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
      const sandbox = sandboxOnThisMachine(config.browserArgs);
      const options = puppeteerOptions({ ...choice, marker: markerArg(config.sessionsDir, 'preflight'), extraArgs: config.browserArgs, sandbox: sandbox.enabled });
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
      const sandboxNote = `sandbox ${sandbox.enabled ? 'on' : `off: ${sandbox.why}`}`;
      return pass(`${choice.executablePath} (${choice.source}) opened a blank page: ${version}, ${sandboxNote}${choice.warning ? ` (${choice.warning})` : ''}`);
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

const webhook: PreflightCheck = {
  name: 'webhook URL',
  async run(config) {
    if (!config.webhookUrl) return pass('none set (WHATSAPP_WEBHOOK_URL): no events are sent');
    const url = new URL(config.webhookUrl);
    // The configuration already refused plain http to another host unless WHATSAPP_WEBHOOK_ALLOW_HTTP.
    const plain = url.protocol === 'http:' && !isLoopbackHost(url.hostname) ? ', plain http allowed by WHATSAPP_WEBHOOK_ALLOW_HTTP' : '';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    try {
      const { address } = await withTimeout(dns.lookup(host), DNS_TIMEOUT_MS, `the DNS lookup of ${host}`);
      return pass(`${url.protocol}//${url.host} (${address})${plain}`);
    } catch (error) {
      return fail(`${url.host} does not resolve: ${(error as Error).message}`, 'check the host name of WHATSAPP_WEBHOOK_URL and this machine\'s DNS');
    }
  },
};

const memory: PreflightCheck = {
  name: 'memory',
  async run(config) {
    const total = totalMemoryMb();
    const cap = config.maxSessions ?? defaultMaxSessions(total, config.minFreeMemoryMb, config.sessionMemoryMb);
    const available = availableMemoryMb();
    const what = config.maxSessions ? `WHATSAPP_MAX_SESSIONS=${config.maxSessions}` : `the default cap of ${cap} sessions`;
    // The cap must fit the memory this worker may use at all (the machine's, or its cgroup's limit).
    const needed = config.minFreeMemoryMb + WORKER_MEMORY_MB + (cap ?? 1) * config.sessionMemoryMb;
    const rule = `${what} x WHATSAPP_SESSION_MEMORY_MB=${config.sessionMemoryMb} + the worker's ${WORKER_MEMORY_MB} MiB + WHATSAPP_MIN_FREE_MEMORY_MB=${config.minFreeMemoryMb} = ${needed} MiB`;
    const fits = Math.max(0, Math.floor((total - config.minFreeMemoryMb - WORKER_MEMORY_MB) / config.sessionMemoryMb));
    if (config.maxSessions && needed > total) {
      return fail(`${total} MiB of memory for this worker, under ${rule}`, `set WHATSAPP_MAX_SESSIONS=${fits} or less, or give it more memory`);
    }
    // Starts are refused below the floor: at least one session must fit now.
    if (available < config.minFreeMemoryMb + config.sessionMemoryMb) {
      return fail(
        `${available} MiB available now, under WHATSAPP_MIN_FREE_MEMORY_MB=${config.minFreeMemoryMb} + one session's ${config.sessionMemoryMb} MiB`,
        'free memory on this machine before starting the worker',
      );
    }
    return pass(`${total} MiB for this worker (${available} MiB available now), enough for ${rule}`);
  },
};

/** whatsapp-web.js writes its web-version cache before a session is ready: a folder it cannot write left sessions `authenticated` for good. */
const webVersionCacheFolder: PreflightCheck = {
  name: 'web-version cache folder',
  async run(config) {
    const cache = config.webVersionCache;
    if (cache.type !== 'local') return pass(`not kept on disk (WHATSAPP_WEBJS_WEB_VERSION_CACHE=${cache.type})`);
    return privateFolder('web-version cache folder', 'WHATSAPP_SESSIONS_DIR', () => cache.path, true).run(config);
  },
};

/** Every check, in the order a start meets them. */
/** WHATSAPP_AUTH_STORE=postgres: the database answers and `wa-sync migrate` has made its tables. */
const authStore: PreflightCheck = {
  name: 'auth store',
  async run(config) {
    if (config.authStore.kind === 'local') return pass(`local: the logins are the profiles in ${config.sessionsDir}`);
    const { openAuthDatabase } = require('./portable/database') as typeof import('./portable/database');
    try {
      const knex = await openAuthDatabase(config.authStore.databaseUrl, config.workerId);
      await knex.destroy();
    } catch (error) {
      const message = error instanceof WorkerError ? error.message : String(error);
      return fail(message, 'start Postgres, check DATABASE_URL (or DATABASE_URL_FILE), and run `wa-sync migrate` against it');
    }
    const { databaseLabel } = require('./portable/database') as typeof import('./portable/database');
    return pass(`postgres at ${databaseLabel(config.authStore.databaseUrl)}: reachable, tables in place; worker id ${config.workerId}`);
  },
};

export const preflightChecks: readonly PreflightCheck[] = [
  privateFolder('sessions folder', 'WHATSAPP_SESSIONS_DIR', (config) => config.sessionsDir, true),
  privateFolder('log folder', 'LOG_DIR', (config) => config.logDir),
  webVersionCacheFolder,
  folderLock,
  browser,
  webhook,
  memory,
  authStore,
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
