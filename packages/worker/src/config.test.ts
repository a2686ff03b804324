import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_SESSION_MEMORY_MB, defaultLaunchConcurrency, loadConfig, parseBrowserArgs } from './config';
import { ConfigError } from './errors';

describe('config', () => {
  const base = { WHATSAPP_NODE_API_KEY: 'k-123-0123456789ab' };

  it('applies the contract defaults', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      port: 3001,
      host: '127.0.0.1',
      apiKey: 'k-123-0123456789ab',
      sessionsDir: path.resolve('./sessions'),
      autoReconnect: true,
      maxReconnectAttempts: 3,
      healthCheckIntervalSec: 30,
      restoreConcurrency: 2,
      restoreOnStart: true,
      browserArgs: [],
      webVersionCache: { type: 'local', path: path.resolve('./sessions/.wwebjs_cache') },
      webhookUrl: undefined,
      logDir: path.resolve('./logs'),
      logLevel: 'info',
      launchConcurrency: defaultLaunchConcurrency(),
      maxSessions: undefined,
      minFreeMemoryMb: 300,
      qrTimeoutSec: 300,
      readyTimeoutSec: 120,
      sessionMemoryMb: DEFAULT_SESSION_MEMORY_MB,
      webhookMaxQueueBytes: 32 * 1024 * 1024,
    });
  });

  it("keeps whatsapp-web.js's local web-version cache in the sessions folder, never the working directory", () => {
    for (const cache of [undefined, 'local']) {
      expect(loadConfig({ ...base, WHATSAPP_SESSIONS_DIR: '/var/lib/wa', WHATSAPP_WEBJS_WEB_VERSION_CACHE: cache }).webVersionCache).toEqual({
        type: 'local',
        path: '/var/lib/wa/.wwebjs_cache',
      });
    }
    const template = 'https://cache.example/wa/{version}.html';
    expect(loadConfig({ ...base, WHATSAPP_WEBJS_WEB_VERSION_CACHE: 'remote', WHATSAPP_WEBJS_WEB_VERSION_REMOTE_PATH: template }).webVersionCache).toEqual({
      type: 'remote',
      remotePath: template,
    });
  });

  it('refuses a remote web-version cache without its URL template, naming the variable', () => {
    expect(() => loadConfig({ ...base, WHATSAPP_WEBJS_WEB_VERSION_CACHE: 'remote' })).toThrow(
      new ConfigError('WHATSAPP_WEBJS_WEB_VERSION_REMOTE_PATH: is required when WHATSAPP_WEBJS_WEB_VERSION_CACHE=remote (a URL template with {version})'),
    );
    expect(() => loadConfig({ ...base, WHATSAPP_WEBJS_WEB_VERSION_CACHE: 'remote', WHATSAPP_WEBJS_WEB_VERSION_REMOTE_PATH: 'cache/{version}.html' })).toThrow(
      new ConfigError('WHATSAPP_WEBJS_WEB_VERSION_REMOTE_PATH: must be an http(s) URL'),
    );
  });

  it('launches one Chromium at a time per two cores, at least one', () => {
    expect([1, 2, 3, 4, 8].map((cores) => defaultLaunchConcurrency(cores))).toEqual([1, 1, 1, 2, 4]);
  });

  it('reads the metrics token and the worker id (the host name by default)', () => {
    expect(loadConfig(base)).toMatchObject({ metricsToken: undefined, workerId: os.hostname() });
    expect(loadConfig({ ...base, WHATSAPP_METRICS_TOKEN: '9c1e7a3f5b2d4e6a8c0b', WHATSAPP_WORKER_ID: ' worker-b ' })).toMatchObject({
      metricsToken: '9c1e7a3f5b2d4e6a8c0b',
      workerId: 'worker-b',
    });
  });

  it('reads the capacity and QR limits', () => {
    expect(
      loadConfig({ ...base, WHATSAPP_LAUNCH_CONCURRENCY: '3', WHATSAPP_MAX_SESSIONS: '6', WHATSAPP_MIN_FREE_MEMORY_MB: '0', WHATSAPP_QR_TIMEOUT_SECONDS: '1.5' }),
    ).toMatchObject({ launchConcurrency: 3, maxSessions: 6, minFreeMemoryMb: 0, qrTimeoutSec: 1.5 });
    expect(loadConfig({ ...base, WHATSAPP_READY_TIMEOUT_SECONDS: '30', WHATSAPP_SESSION_MEMORY_MB: '350' })).toMatchObject({ readyTimeoutSec: 30, sessionMemoryMb: 350 });
  });

  it.each([
    ['WHATSAPP_NODE_API_KEY', 'short-key-15chr', 'WHATSAPP_NODE_API_KEY: must be at least 16 characters (e.g. openssl rand -hex 32)'],
    ['WHATSAPP_NODE_API_KEY', 'change-me-worker-api-key', 'WHATSAPP_NODE_API_KEY: is the placeholder from .env.example: set a secret of your own (e.g. openssl rand -hex 32)'],
    ['WHATSAPP_WEBHOOK_SECRET', 'tiny', 'WHATSAPP_WEBHOOK_SECRET: must be at least 16 characters (e.g. openssl rand -hex 32)'],
    ['WHATSAPP_METRICS_TOKEN', 'tiny-token', 'WHATSAPP_METRICS_TOKEN: must be at least 16 characters (e.g. openssl rand -hex 32)'],
    ['WHATSAPP_METRICS_TOKEN', 'abababababababababab', 'WHATSAPP_METRICS_TOKEN: is a shorter string repeated: set a random secret (e.g. openssl rand -hex 32)'],
  ])('refuses a weak %s (%s) without echoing it', (name, value, message) => {
    const env = { ...base, WHATSAPP_WEBHOOK_URL: 'http://127.0.0.1:9/hook', WHATSAPP_WEBHOOK_SECRET: 'webhook-secret-0123', [name]: value };
    expect(() => loadConfig(env)).toThrow(new ConfigError(message));
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
      WHATSAPP_WEBHOOK_SECRET: 'webhook-secret-0123',
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
      webVersionCache: { type: 'none' },
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
    ['WHATSAPP_LAUNCH_CONCURRENCY', '0', 'WHATSAPP_LAUNCH_CONCURRENCY: must be at least 1'],
    ['WHATSAPP_MAX_SESSIONS', 'lots', 'WHATSAPP_MAX_SESSIONS: must be a whole number'],
    ['WHATSAPP_QR_TIMEOUT_SECONDS', '0', 'WHATSAPP_QR_TIMEOUT_SECONDS: must be greater than 0'],
    ['WHATSAPP_WEBHOOK_MAX_QUEUE_MB', '0', 'WHATSAPP_WEBHOOK_MAX_QUEUE_MB: must be greater than 0'],
    ['WHATSAPP_WEBHOOK_MAX_QUEUE_MB', '32MB', 'WHATSAPP_WEBHOOK_MAX_QUEUE_MB: must be a number'],
    ['WHATSAPP_WEBHOOK_ALLOW_HTTP', 'yes', 'WHATSAPP_WEBHOOK_ALLOW_HTTP: must be true or false (or 1, 0)'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL: must be one of error, warn, info, http, verbose, debug, silly'],
  ])('rejects %s=%s', (name, value, message) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(new ConfigError(message));
  });

  it('needs a webhook secret with a webhook URL, and never echoes a secret', () => {
    expect(() => loadConfig({ ...base, WHATSAPP_WEBHOOK_URL: 'http://x/h' })).toThrow('WHATSAPP_WEBHOOK_SECRET');
    try {
      loadConfig({ WHATSAPP_NODE_API_KEY: 'k-123-0123456789ab', PORT: 'x' });
    } catch (error) {
      expect((error as Error).message).not.toContain('k-123');
    }
  });

  it('bounds the webhook backlog in bytes from WHATSAPP_WEBHOOK_MAX_QUEUE_MB, fractions included', () => {
    expect(loadConfig({ ...base, WHATSAPP_WEBHOOK_MAX_QUEUE_MB: '64' }).webhookMaxQueueBytes).toBe(64 * 1024 * 1024);
    expect(loadConfig({ ...base, WHATSAPP_WEBHOOK_MAX_QUEUE_MB: '0.5' }).webhookMaxQueueBytes).toBe(512 * 1024);
  });

  describe('a webhook over plain http', () => {
    const webhook = (url: string, extra: Record<string, string> = {}) =>
      loadConfig({ ...base, WHATSAPP_WEBHOOK_URL: url, WHATSAPP_WEBHOOK_SECRET: 'webhook-secret-0123', ...extra });

    it.each(['http://127.0.0.1:9/hook', 'http://127.8.9.10/hook', 'http://localhost:3000/hook', 'http://LOCALHOST/hook', 'http://[::1]:8080/hook', 'https://hooks.example.com/wa'])(
      'is taken to loopback, and https to anywhere: %s',
      (url) => {
        expect(webhook(url).webhookUrl).toBe(url);
      },
    );

    it.each(['http://hooks.example.com/wa', 'http://10.0.0.5:8080/hook', 'http://128.0.0.1/hook', 'http://[::2]/hook', 'http://localhost.example.com/hook'])(
      'is refused to another host, naming only the host: %s',
      (url) => {
        const host = new URL(url).hostname;
        expect(() => webhook(url)).toThrow(
          new ConfigError(
            `WHATSAPP_WEBHOOK_URL: plain http:// to ${host} is refused (session.qr events carry the pairing secret): use https://, or set WHATSAPP_WEBHOOK_ALLOW_HTTP=true on a network you trust`,
          ),
        );
      },
    );

    it('never echoes the rest of the URL (it may hold a token)', () => {
      expect(() => webhook('http://user:pass@hooks.example.com/hook?token=tok-secret')).toThrow(/^WHATSAPP_WEBHOOK_URL: plain http:\/\/ to hooks\.example\.com is refused/);
      try {
        webhook('http://user:pass@hooks.example.com/hook?token=tok-secret');
      } catch (error) {
        expect((error as Error).message).not.toMatch(/pass|tok-secret|\/hook/);
      }
    });

    it('is taken to another host when WHATSAPP_WEBHOOK_ALLOW_HTTP=true', () => {
      expect(webhook('http://hooks.example.com/wa', { WHATSAPP_WEBHOOK_ALLOW_HTTP: 'true' }).webhookUrl).toBe('http://hooks.example.com/wa');
    });
  });

  it('parses browser arguments as a JSON array or as words', () => {
    expect(parseBrowserArgs('["--a=1 2","--b"]')).toEqual(['--a=1 2', '--b']);
    expect(parseBrowserArgs(' --a  --b=2 ')).toEqual(['--a', '--b=2']);
    expect(parseBrowserArgs(undefined)).toEqual([]);
    expect(() => parseBrowserArgs('[1]')).toThrow(ConfigError);
    expect(() => parseBrowserArgs('[oops')).toThrow(ConfigError);
  });

  describe('secrets from files', () => {
    const KEY = 'a3f1c9e07b2d4e5861d0c7b9f2e4a6d8';
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-worker-config-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    function secretFile(content: string, mode = 0o600): string {
      const file = path.join(dir, `secret-${Math.random().toString(16).slice(2)}`);
      fs.writeFileSync(file, content, { mode });
      fs.chmodSync(file, mode);
      return file;
    }

    it('reads each secret from its _FILE, without the final newline', () => {
      const config = loadConfig({
        WHATSAPP_NODE_API_KEY_FILE: secretFile(`${KEY}\n`),
        WHATSAPP_WEBHOOK_URL: 'http://127.0.0.1:9/hook',
        WHATSAPP_WEBHOOK_SECRET_FILE: secretFile('0f1e2d3c4b5a69788796a5b4c3d2e1f0\r\n'),
      });
      expect(config).toMatchObject({ apiKey: KEY, webhookSecret: '0f1e2d3c4b5a69788796a5b4c3d2e1f0' });
      expect(loadConfig({ WHATSAPP_NODE_API_KEY: KEY, WHATSAPP_METRICS_TOKEN_FILE: secretFile('5f4e3d2c1b0a99887766554433221100\n') }).metricsToken).toBe(
        '5f4e3d2c1b0a99887766554433221100',
      );
    });

    it('refuses a variable given both ways', () => {
      expect(() => loadConfig({ WHATSAPP_NODE_API_KEY: KEY, WHATSAPP_NODE_API_KEY_FILE: secretFile(KEY) })).toThrow(
        new ConfigError('WHATSAPP_NODE_API_KEY and WHATSAPP_NODE_API_KEY_FILE: set one of them, not both'),
      );
      const secret = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
      expect(() => loadConfig({ ...base, WHATSAPP_WEBHOOK_SECRET: secret, WHATSAPP_WEBHOOK_SECRET_FILE: secretFile(secret) })).toThrow(
        new ConfigError('WHATSAPP_WEBHOOK_SECRET and WHATSAPP_WEBHOOK_SECRET_FILE: set one of them, not both'),
      );
    });

    it.each([0o640, 0o604, 0o620, 0o644])('refuses a secret file of mode %o, naming the variable and the rule', (mode) => {
      const file = secretFile(KEY, mode);
      const message = `WHATSAPP_NODE_API_KEY_FILE: ${file} is open to group or others (mode 0${mode.toString(8)}): chmod 600 it`;
      expect(() => loadConfig({ WHATSAPP_NODE_API_KEY_FILE: file })).toThrow(new ConfigError(message));
    });

    it("refuses a secret file of another user, unless the worker is root", () => {
      const file = secretFile(KEY);
      const owner = fs.statSync(file).uid;
      expect(() => loadConfig({ WHATSAPP_NODE_API_KEY_FILE: file }, owner + 1)).toThrow(
        new ConfigError(`WHATSAPP_NODE_API_KEY_FILE: ${file} belongs to uid ${owner}, not to this process's user (uid ${owner + 1}): chown it`),
      );
      expect(loadConfig({ WHATSAPP_NODE_API_KEY_FILE: file }, 0).apiKey).toBe(KEY);
      expect(loadConfig({ WHATSAPP_NODE_API_KEY_FILE: file }, owner).apiKey).toBe(KEY);
    });

    it('refuses a missing, empty or guessable secret file without echoing its content', () => {
      const missing = path.join(dir, 'missing');
      expect(() => loadConfig({ WHATSAPP_NODE_API_KEY_FILE: missing })).toThrow(new ConfigError(`WHATSAPP_NODE_API_KEY_FILE: cannot read ${missing} (ENOENT)`));
      const empty = secretFile('\n');
      expect(() => loadConfig({ WHATSAPP_NODE_API_KEY_FILE: empty })).toThrow(new ConfigError(`WHATSAPP_NODE_API_KEY_FILE: ${empty} is empty`));
      expect(() => loadConfig({ WHATSAPP_NODE_API_KEY_FILE: dir })).toThrow(new ConfigError(`WHATSAPP_NODE_API_KEY_FILE: ${dir} is not a regular file`));
      let message = '';
      try {
        loadConfig({ WHATSAPP_NODE_API_KEY_FILE: secretFile('passwordpassword') });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toBe('WHATSAPP_NODE_API_KEY (from WHATSAPP_NODE_API_KEY_FILE): is a shorter string repeated: set a random secret (e.g. openssl rand -hex 32)');
    });
  });

  it.each([
    ['WHATSAPP_NODE_API_KEY', 'passwordpassword', 'is a shorter string repeated'],
    ['WHATSAPP_NODE_API_KEY', 'kkkkkkkkkkkkkkkkkkkk', 'is one character repeated'],
    ['WHATSAPP_WEBHOOK_SECRET', 'secretsecretsecret', 'is a shorter string repeated'],
    ['WHATSAPP_WEBHOOK_SECRET', 'aaaaaaaaaaaaaaaaaaab', 'is too easy to guess (under 60 bits estimated)'],
  ])('refuses a guessable %s, naming the rule and not the secret', (name, value, rule) => {
    const env = { ...base, WHATSAPP_WEBHOOK_URL: 'http://127.0.0.1:9/hook', WHATSAPP_WEBHOOK_SECRET: 'webhook-secret-0123', [name]: value };
    expect(() => loadConfig(env)).toThrow(new ConfigError(`${name}: ${rule}: set a random secret (e.g. openssl rand -hex 32)`));
  });
});
