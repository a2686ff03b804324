import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SESSION_STATUSES, type WebhookEvent } from '@wa-session-sync/shared';
import { browserArgs, markerArg } from '../src/browser/launch';
import { fileLockOwners, findProcesses, groupMembers as processGroups, reapOrphans } from '../src/browser/orphans';
import { lowerProcessTreePriority } from '../src/browser/priority';
import { profileLockHolder, removeSingletonFiles, sessionFolder } from '../src/browser/profile';
import { loadConfig, parseBrowserArgs } from '../src/config';
import { ConfigError, InvalidIdError } from '../src/errors';
import { sign, WebhookDispatcher } from '../src/events/webhook';
import { closeLogger, createLogger, silentLogger } from '../src/log';
import { BrokenManifestError, listSavedSessions, readManifest, writeManifest } from '../src/sessions/manifest';
import { backoffDelay, nextReconnect } from '../src/sessions/reconnect';
import { TRANSITIONS, transition } from '../src/sessions/state';
import { startReceiver, tempDir, waitFor } from './helpers';

describe('config', () => {
  const base = { WHATSAPP_NODE_API_KEY: 'k-123' };

  it('applies the contract defaults', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      port: 3001,
      host: '127.0.0.1',
      apiKey: 'k-123',
      sessionsDir: path.resolve('./sessions'),
      autoReconnect: true,
      maxReconnectAttempts: 3,
      healthCheckIntervalSec: 30,
      restoreConcurrency: 2,
      restoreOnStart: true,
      browserArgs: [],
      webVersionCache: undefined,
      webhookUrl: undefined,
      logDir: path.resolve('./logs'),
      logLevel: 'info',
    });
  });

  it('reads every variable it is given', () => {
    const config = loadConfig({
      ...base,
      PORT: '0',
      HOST: '0.0.0.0',
      WHATSAPP_SESSIONS_DIR: '/tmp/s',
      WHATSAPP_WEBJS_AUTO_RECONNECT: 'false',
      WHATSAPP_WEBJS_MAX_RECONNECT_ATTEMPTS: '5',
      WHATSAPP_WEBJS_HEALTH_CHECK_INTERVAL: '0.5',
      WHATSAPP_RESTORE_CONCURRENCY: '4',
      WHATSAPP_RESTORE_ON_START: 'false',
      WHATSAPP_WEBJS_WEB_VERSION_CACHE: 'none',
      WHATSAPP_WEBHOOK_URL: 'http://127.0.0.1:9/hook',
      WHATSAPP_WEBHOOK_SECRET: 's',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      port: 0,
      host: '0.0.0.0',
      sessionsDir: '/tmp/s',
      autoReconnect: false,
      maxReconnectAttempts: 5,
      healthCheckIntervalSec: 0.5,
      restoreConcurrency: 4,
      restoreOnStart: false,
      webVersionCache: 'none',
      webhookUrl: 'http://127.0.0.1:9/hook',
      logLevel: 'debug',
    });
  });

  it('refuses to start without an API key, in one line naming the variable', () => {
    expect(() => loadConfig({})).toThrow(new ConfigError('WHATSAPP_NODE_API_KEY: is required'));
    expect(() => loadConfig({ WHATSAPP_NODE_API_KEY: '' })).toThrow(ConfigError);
  });

  it.each([
    ['PORT', 'abc', 'PORT: must be a whole number'],
    ['PORT', '70000', 'PORT: must be at most 65535'],
    ['HOST', '  ', 'HOST: must not be empty'],
    ['WHATSAPP_WEBJS_MAX_RECONNECT_ATTEMPTS', '-1', 'WHATSAPP_WEBJS_MAX_RECONNECT_ATTEMPTS: must be a whole number'],
    ['WHATSAPP_WEBJS_HEALTH_CHECK_INTERVAL', 'often', 'WHATSAPP_WEBJS_HEALTH_CHECK_INTERVAL: must be a number'],
    ['WHATSAPP_WEBJS_HEALTH_CHECK_INTERVAL', '0', 'WHATSAPP_WEBJS_HEALTH_CHECK_INTERVAL: must be greater than 0'],
    ['WHATSAPP_RESTORE_CONCURRENCY', '0', 'WHATSAPP_RESTORE_CONCURRENCY: must be at least 1'],
    ['WHATSAPP_WEBJS_AUTO_RECONNECT', 'yes', 'WHATSAPP_WEBJS_AUTO_RECONNECT: must be true or false (or 1, 0)'],
    ['WHATSAPP_WEBJS_WEB_VERSION_CACHE', 'disk', 'WHATSAPP_WEBJS_WEB_VERSION_CACHE: must be one of none, local, remote'],
    ['WHATSAPP_WEBHOOK_URL', 'ftp://example.com/hook', 'WHATSAPP_WEBHOOK_URL: must be an http(s) URL'],
    ['WHATSAPP_WEBHOOK_URL', 'not a url', 'WHATSAPP_WEBHOOK_URL: must be an http(s) URL'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL: must be one of error, warn, info, http, verbose, debug, silly'],
  ])('rejects %s=%s', (name, value, message) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(new ConfigError(message));
  });

  it('needs a webhook secret with a webhook URL, and never echoes a secret', () => {
    expect(() => loadConfig({ ...base, WHATSAPP_WEBHOOK_URL: 'http://x/h' })).toThrow('WHATSAPP_WEBHOOK_SECRET');
    try {
      loadConfig({ WHATSAPP_NODE_API_KEY: 'k-123', PORT: 'x' });
    } catch (error) {
      expect((error as Error).message).not.toContain('k-123');
    }
  });

  it('parses browser arguments as a JSON array or as words', () => {
    expect(parseBrowserArgs('["--a=1 2","--b"]')).toEqual(['--a=1 2', '--b']);
    expect(parseBrowserArgs(' --a  --b=2 ')).toEqual(['--a', '--b=2']);
    expect(parseBrowserArgs(undefined)).toEqual([]);
    expect(() => parseBrowserArgs('[1]')).toThrow(ConfigError);
    expect(() => parseBrowserArgs('[oops')).toThrow(ConfigError);
  });

  it('launches Chromium with the orphan marker and the extra arguments last', () => {
    const args = browserArgs({ sessionsDir: '/srv/s', extraArgs: ['--x'], isRoot: true });
    expect(args[0]).toBe('--no-sandbox');
    expect(args).toContain(markerArg('/srv/s'));
    expect(args[args.length - 1]).toBe('--x');
    expect(browserArgs({ sessionsDir: '/srv/s', extraArgs: [], isRoot: false })).not.toContain('--no-sandbox');
  });
});

describe('browser priority', () => {
  it('renices every thread of a process and its descendants, and its session autogroup', async () => {
    const child = spawn('sh', ['-c', 'sleep 30 & sleep 30; wait'], { detached: true, stdio: 'ignore' });
    try {
      await waitFor(() => fs.readFile(`/proc/${child.pid}/task/${child.pid}/stat`).then(() => true), 'the group');
      await new Promise((r) => setTimeout(r, 100)); // both sleeps forked
      expect(await lowerProcessTreePriority(child.pid!, 7)).toBeGreaterThanOrEqual(3);
      const nices = await Promise.all(
        (await groupMembers(child.pid!)).map(async (pid) => Number((await fs.readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')[16])),
      );
      expect(nices).toEqual([7, 7, 7]);
      // `detached` made the shell a session leader: its autogroup (where the kernel has them) goes down too.
      const autogroup = await fs.readFile(`/proc/${child.pid}/autogroup`, 'utf8').catch(() => null);
      if (autogroup !== null) expect(autogroup).toMatch(/ nice 7$/m);
    } finally {
      process.kill(-child.pid!, 'SIGKILL');
    }
  });
});

describe('orphaned Chromium of an earlier worker', () => {
  /** A member of process group `pgid` holds a file lock. */
  const holdsLock = (pgid: number) => {
    const owners = fileLockOwners()!;
    return processGroups(new Set([pgid])).get(pgid)!.some((pid) => owners.has(pid));
  };

  it('kills each as soon as it holds no file lock (its stores closed), and a hung one after the grace', async () => {
    const dir = await tempDir('reap');
    const marker = `--wa-worker-test-orphan=${dir}`;
    const lock = path.join(dir, 'store.lock');
    const start = (script: string) => {
      const child = spawn('sh', ['-c', script, 'sh', marker], { detached: true, stdio: 'ignore' });
      return { child, gone: new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal))) };
    };
    const done = start('sleep 30'); // stores already closed
    const closing = start(`flock ${lock}.1 sleep 0.4; sleep 30`); // flushes for 0.4 s, then only tears down
    const hung = start(`flock ${lock}.2 sleep 30`); // never closes its stores
    try {
      await waitFor(() => holdsLock(closing.child.pid!) && holdsLock(hung.child.pid!), 'the orphans to lock their stores');
      const started = Date.now();
      const result = await reapOrphans(findProcesses([marker]), { graceMs: 1500 });
      expect(result).toEqual({ saved: expect.arrayContaining([done.child.pid, closing.child.pid]), forced: [hung.child.pid], exited: [] });
      expect(result.saved).toHaveLength(2);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
      expect(await Promise.all([done.gone, closing.gone, hung.gone])).toEqual(['SIGKILL', 'SIGKILL', 'SIGKILL']);
    } finally {
      for (const { child } of [done, closing, hung]) {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('does not kill one before its lock is released', async () => {
    const dir = await tempDir('reap');
    const marker = `--wa-worker-test-orphan=${dir}`;
    const child = spawn('sh', ['-c', `flock ${path.join(dir, 'store.lock')} sleep 0.6; sleep 30`, 'sh', marker], { detached: true, stdio: 'ignore' });
    try {
      await waitFor(() => holdsLock(child.pid!), 'the orphan to lock its store');
      const started = Date.now();
      const result = await reapOrphans(findProcesses([marker]), { graceMs: 10_000 });
      expect(result.saved).toEqual([child.pid]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(300); // waited for the lock to go
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

async function groupMembers(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (stat && Number(stat.split(') ')[1]!.split(' ')[2]) === pgid) members.push(Number(entry));
  }
  return members;
}

describe('session state machine', () => {
  it('uses only the contract vocabulary', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...SESSION_STATUSES].sort());
    for (const targets of Object.values(TRANSITIONS)) {
      for (const next of Object.values(targets)) expect(SESSION_STATUSES).toContain(next);
    }
  });

  it.each([
    ['initializing', 'qr', 'qr_scanning'],
    ['initializing', 'ready', 'connected'],
    ['qr_scanning', 'authenticated', 'authenticated'],
    ['authenticated', 'ready', 'connected'],
    ['connected', 'lost', 'reconnecting'],
    ['connected', 'logout', 'qr_scanning'],
    ['connected', 'dropped', 'disconnected'],
    ['connected', 'stop', 'disconnected'],
    ['reconnecting', 'authenticated', 'reconnecting'],
    ['reconnecting', 'ready', 'connected'],
    ['reconnecting', 'lost', 'reconnecting'],
    ['reconnecting', 'exhausted', 'failed'],
    ['reconnecting', 'qr', 'qr_scanning'],
    ['failed', 'start', 'initializing'],
    ['disconnected', 'start', 'initializing'],
  ] as const)('%s --%s--> %s', (from, event, to) => {
    expect(transition(from, event)).toBe(to);
  });

  it.each([
    ['disconnected', 'ready'],
    ['failed', 'ready'],
    ['failed', 'lost'],
    ['connected', 'qr'],
    ['connected', 'authenticated'],
    ['connected', 'start'],
    ['disconnected', 'lost'],
  ] as const)('in %s, ignores %s (a stale event never revives a dead session)', (from, event) => {
    expect(transition(from, event)).toBeNull();
  });
});

describe('reconnect backoff', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1000 };

  it('doubles per attempt with half of it jittered, and caps', () => {
    expect(backoffDelay(policy, 1, () => 0)).toBe(50);
    expect(backoffDelay(policy, 1, () => 1)).toBe(100);
    expect(backoffDelay(policy, 3, () => 0)).toBe(200);
    expect(backoffDelay(policy, 3, () => 1)).toBe(400);
    expect(backoffDelay(policy, 10, () => 1)).toBe(1000);
    expect(backoffDelay(policy, 10, () => 0)).toBe(500);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(policy, 2);
      expect(d).toBeGreaterThanOrEqual(100);
      expect(d).toBeLessThanOrEqual(200);
    }
  });

  it('gives up after the maximum number of attempts', () => {
    const limits = { ...policy, maxAttempts: 3 };
    expect(nextReconnect(limits, 0, () => 0)).toEqual({ action: 'retry', attempt: 1, delayMs: 50 });
    expect(nextReconnect(limits, 2, () => 0)).toEqual({ action: 'retry', attempt: 3, delayMs: 200 });
    expect(nextReconnect(limits, 3)).toEqual({ action: 'give_up' });
    expect(nextReconnect({ ...limits, maxAttempts: 0 }, 0)).toEqual({ action: 'give_up' });
  });
});

describe('session folders', () => {
  it('places a session under its workspace and refuses ids that could leave it', () => {
    expect(sessionFolder('/srv/sessions', 'ws_1', 'webjs_1_abc')).toBe('/srv/sessions/ws_1/webjs_1_abc');
    for (const bad of ['..', '../x', 'a/b', '', 'a b', 'x'.repeat(101), '.']) {
      expect(() => sessionFolder('/srv/sessions', 'ws', bad)).toThrow(InvalidIdError);
      expect(() => sessionFolder('/srv/sessions', bad, 'id')).toThrow(InvalidIdError);
    }
  });

  it('removes stale Singleton files, including a dangling SingletonLock from another host', async () => {
    const dir = await tempDir('singleton');
    try {
      await fs.symlink('other-host-4242', path.join(dir, 'SingletonLock'));
      await fs.writeFile(path.join(dir, 'SingletonCookie'), '1');
      await fs.writeFile(path.join(dir, 'Preferences'), '{}');
      expect(await removeSingletonFiles(dir)).toEqual(['SingletonLock', 'SingletonCookie']);
      expect((await fs.readdir(dir)).sort()).toEqual(['Preferences']);
      expect(await removeSingletonFiles(path.join(dir, 'missing'))).toEqual([]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('reads who holds a profile from its SingletonLock', async () => {
    const dir = await tempDir('lock');
    try {
      expect(await profileLockHolder(dir)).toBeNull();
      await fs.symlink('my-host-1-4242', path.join(dir, 'SingletonLock'));
      expect(await profileLockHolder(dir)).toEqual({ host: 'my-host-1', pid: 4242 });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps a manifest per session and finds saved sessions, reporting broken ones', async () => {
    const dir = await tempDir('manifest');
    try {
      const good = path.join(dir, 'ws1', 's1');
      await writeManifest(good, { workspace_id: 'ws1', session_id: 's1', desired: 'running', phone_number: '628', updated_at: 'x' });
      expect(await readManifest(good)).toMatchObject({ workspace_id: 'ws1', session_id: 's1', desired: 'running', phone_number: '628' });

      const broken = path.join(dir, 'ws1', 's2');
      await fs.mkdir(broken, { recursive: true });
      await fs.writeFile(path.join(broken, 'session.json'), '{not json');
      await expect(readManifest(broken)).rejects.toThrow(BrokenManifestError);

      const misnamed = path.join(dir, 'ws2', 's3');
      await writeManifest(misnamed, { workspace_id: 'ws1', session_id: 's1', desired: 'running', phone_number: null, updated_at: 'x' });
      await expect(readManifest(misnamed)).rejects.toThrow('does not name its own folder');

      await fs.mkdir(path.join(dir, 'ws1', 'empty'), { recursive: true });
      await fs.mkdir(path.join(dir, 'bad id', 's9', 'session'), { recursive: true });
      expect((await listSavedSessions(dir)).map((s) => `${s.workspaceId}/${s.sessionId}`)).toEqual(['ws1/s1', 'ws1/s2', 'ws2/s3']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('webhook delivery', () => {
  const event = (n: number): WebhookEvent => ({
    event: 'message',
    session_id: 's1',
    workspace_id: 'w1',
    timestamp: new Date(0).toISOString(),
    payload: { id: `m${n}`, from: '1@c.us', to: '2@c.us', body: `b${n}`, type: 'chat', timestamp: n },
  });

  it('signs the exact body with HMAC-SHA256', () => {
    const expected = createHmac('sha256', 'sec').update('{"a":1}').digest('hex');
    expect(sign('sec', '{"a":1}')).toBe(`sha256=${expected}`);
  });

  it('delivers signed events and retries a failing receiver with backoff until it answers 2xx', async () => {
    let calls = 0;
    const receiver = await startReceiver(() => (++calls <= 2 ? 503 : 200));
    const dispatcher = new WebhookDispatcher({ url: receiver.url, secret: 'sec', logger: silentLogger(), retryBaseMs: 10, retryMaxMs: 20 });
    try {
      dispatcher.publish(event(1));
      await dispatcher.idle();
      expect(calls).toBe(3);
      expect(receiver.received).toHaveLength(1);
      const [got] = receiver.received;
      expect(got!.event).toEqual(event(1));
      expect(got!.signature).toBe(sign('sec', got!.raw));
      expect(dispatcher.stats).toMatchObject({ delivered: 1, failed: 0 });
    } finally {
      await dispatcher.close();
      await receiver.close();
    }
  });

  it('gives up after its attempts, and a dead receiver never blocks publishing', async () => {
    const receiver = await startReceiver(() => 500);
    const dispatcher = new WebhookDispatcher({ url: receiver.url, secret: 's', logger: silentLogger(), retryBaseMs: 1, retryMaxMs: 2, maxAttempts: 2 });
    try {
      for (let i = 0; i < 20; i++) dispatcher.publish(event(i));
      // publish() only enqueues: it returned before any delivery could be made
      expect(dispatcher.stats.delivered + dispatcher.stats.failed).toBe(0);
      await dispatcher.idle();
      expect(dispatcher.stats).toMatchObject({ delivered: 0, failed: 20 });
    } finally {
      await dispatcher.close();
      await receiver.close();
    }
  });

  it('gives up on a receiver that never answers after its timeout, and logs why', async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const { port } = silent.address() as AddressInfo;
    const warnings: unknown[] = [];
    const logger = silentLogger();
    logger.warn = ((message: string, meta: unknown) => warnings.push({ message, meta })) as never;
    const dispatcher = new WebhookDispatcher({ url: `http://127.0.0.1:${port}/hook`, secret: 's', logger, maxAttempts: 1, timeoutMs: 200 });
    try {
      dispatcher.publish(event(1));
      await dispatcher.idle();
      expect(dispatcher.stats).toMatchObject({ delivered: 0, failed: 1 });
      expect(warnings).toEqual([
        { message: 'Webhook delivery failed', meta: expect.objectContaining({ attempts: 1, error: 'no answer within 200 ms' }) },
      ]);
    } finally {
      await dispatcher.close();
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });

  it('keeps a bounded queue, dropping the oldest events', async () => {
    const dispatcher = new WebhookDispatcher({ url: 'http://127.0.0.1:9/none', secret: 's', logger: silentLogger(), maxQueue: 3, concurrency: 1, maxAttempts: 1 });
    try {
      for (let i = 0; i < 10; i++) dispatcher.publish(event(i));
      // one in flight, three queued: six dropped
      expect(dispatcher.stats.dropped).toBe(6);
      await dispatcher.idle();
      expect(dispatcher.stats.failed).toBe(4);
    } finally {
      await dispatcher.close();
    }
  });
});

describe('logger', () => {
  it('drops lines logged after it was closed instead of throwing "write after end"', async () => {
    const dir = await tempDir('logger');
    const logger = createLogger({ logDir: dir, level: 'info' });
    logger.info('before close');
    const closed = closeLogger(logger);
    expect(() => logger.info('while closing')).not.toThrow();
    await closed;
    expect(() => logger.error('after close', { detail: 1 })).not.toThrow();
    const lines = (await fs.readFile(path.join(dir, 'whatsapp-service.log'), 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line).message)).toEqual(['before close']);
  });
});
