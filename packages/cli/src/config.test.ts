import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveDatabaseConfig, resolveDrainConfig, resolveSyncConfig } from './config';
import { ConfigError } from './errors';

describe('resolveSyncConfig', () => {
  it('applies the contract defaults', () => {
    const config = resolveSyncConfig({}, {}, false);
    expect(config).toMatchObject({
      workerUrl: 'http://localhost:3001',
      apiKey: undefined,
      database: { kind: 'embedded', dataDir: path.resolve('.data/pglite') },
      auditLogPath: path.resolve('logs/wa-sync-audit.log'),
      autoReconnect: false,
      workspaceId: undefined,
      dryRun: false,
      json: false,
      color: false,
      backoff: { baseMinutes: 5, maxAttempts: 5 },
      requestTimeoutMs: 10_000,
      runTimeoutMs: 240_000,
      stuckMs: 15 * 60_000,
    });
  });

  it('takes fractional stuck minutes (so a test need not wait 15 minutes)', () => {
    expect(resolveSyncConfig({}, { WA_SYNC_STUCK_MINUTES: '0.5' }, false).stuckMs).toBe(30_000);
  });

  it('takes flags and environment', () => {
    const config = resolveSyncConfig(
      { autoReconnect: true, workspace: 'ws_1', dryRun: true, json: true },
      {
        WHATSAPP_NODE_SERVICE_URL: 'http://worker:3001/',
        WHATSAPP_NODE_API_KEY: 'k',
        DATABASE_URL: 'postgres://u:p@db:6543/accounts',
        WA_SYNC_RECONNECT_MAX_ATTEMPTS: '3',
      },
      true,
    );
    expect(config).toMatchObject({
      workerUrl: 'http://worker:3001',
      apiKey: 'k',
      database: { kind: 'postgres', label: 'db:6543/accounts' },
      autoReconnect: true,
      workspaceId: 'ws_1',
      dryRun: true,
      json: true,
      color: true,
      backoff: { maxAttempts: 3 },
    });
  });

  it('writes no metrics file unless WA_SYNC_METRICS_FILE names one, resolved to an absolute path', () => {
    expect(resolveSyncConfig({}, {}, false).metricsFile).toBeUndefined();
    expect(resolveSyncConfig({}, { WA_SYNC_METRICS_FILE: '' }, false).metricsFile).toBeUndefined();
    expect(resolveSyncConfig({}, { WA_SYNC_METRICS_FILE: 'metrics/wa_sync.prom' }, false).metricsFile).toBe(path.resolve('metrics/wa_sync.prom'));
  });

  it('colours only on a terminal and never with NO_COLOR', () => {
    expect(resolveSyncConfig({}, {}, true).color).toBe(true);
    expect(resolveSyncConfig({}, { NO_COLOR: '' }, true).color).toBe(false);
    expect(resolveSyncConfig({}, { NO_COLOR: '1' }, true).color).toBe(false);
    expect(resolveSyncConfig({}, {}, false).color).toBe(false);
  });

  it.each(['', '../x', 'a b', 'x'.repeat(101)])('refuses the workspace %j', (workspace) => {
    expect(() => resolveSyncConfig({ workspace }, {}, false)).toThrow(ConfigError);
  });

  it.each([
    [{ WHATSAPP_NODE_SERVICE_URL: 'not a url' }, /WHATSAPP_NODE_SERVICE_URL is not a valid URL/],
    [{ WHATSAPP_NODE_SERVICE_URL: 'ftp://x' }, /must be an http\(s\) URL/],
    [{ WHATSAPP_NODE_SERVICE_URL: 'http://h/?api_key=k' }, /must not carry credentials or a query/],
    [{ WA_SYNC_RECONNECT_MAX_ATTEMPTS: '0' }, /WA_SYNC_RECONNECT_MAX_ATTEMPTS must be an integer from 1 to 100, got "0"/],
    [{ WA_SYNC_RECONNECT_MAX_ATTEMPTS: '101' }, /WA_SYNC_RECONNECT_MAX_ATTEMPTS must be an integer from 1 to 100/],
    [{ WA_SYNC_REQUEST_TIMEOUT_MS: '1.5' }, /WA_SYNC_REQUEST_TIMEOUT_MS must be an integer from 100 to 300000/],
    [{ WA_SYNC_REQUEST_TIMEOUT_MS: '99999999999999999999' }, /WA_SYNC_REQUEST_TIMEOUT_MS must be an integer from 100 to 300000/],
    [{ WA_SYNC_RECONNECT_CONCURRENCY: '65' }, /WA_SYNC_RECONNECT_CONCURRENCY must be an integer from 1 to 64/],
    [{ WA_SYNC_RECONNECT_BACKOFF_MINUTES: '1441' }, /WA_SYNC_RECONNECT_BACKOFF_MINUTES must be an integer from 1 to 1440/],
    [{ WA_SYNC_RUN_TIMEOUT_SECONDS: '0' }, /WA_SYNC_RUN_TIMEOUT_SECONDS must be an integer from 1 to 3600/],
    [{ WA_SYNC_STUCK_MINUTES: '0' }, /WA_SYNC_STUCK_MINUTES must be a number of minutes above 0 and at most 1440/],
    [{ WA_SYNC_STUCK_MINUTES: '-1' }, /WA_SYNC_STUCK_MINUTES must be a number/],
    [{ WA_SYNC_STUCK_MINUTES: '1e3' }, /WA_SYNC_STUCK_MINUTES must be a number/],
    [{ WA_SYNC_METRICS_FILE: '/var/lib/node_exporter/wa_sync.txt' }, /WA_SYNC_METRICS_FILE must name a file ending in \.prom/],
    [{ WA_SYNC_METRICS_FILE: '/var/lib/node_exporter/' }, /WA_SYNC_METRICS_FILE must name a file ending in \.prom/],
    [{ WA_SYNC_METRICS_FILE: '/var/lib/node_exporter/.prom' }, /WA_SYNC_METRICS_FILE must name a file ending in \.prom/],
  ])('refuses bad environment %j', (env, message) => {
    expect(() => resolveSyncConfig({}, env, false)).toThrow(message);
  });
});

describe('resolveDatabaseConfig', () => {
  it('labels a postgres URL without its password', () => {
    const config = resolveDatabaseConfig({ DATABASE_URL: 'postgresql://app:s3cret@10.0.0.5/wa' });
    expect(config).toEqual({ kind: 'postgres', url: 'postgresql://app:s3cret@10.0.0.5/wa', label: '10.0.0.5:5432/wa' });
  });

  it('uses WA_SYNC_DATA_DIR for the embedded database', () => {
    expect(resolveDatabaseConfig({ WA_SYNC_DATA_DIR: '/tmp/x' })).toMatchObject({ kind: 'embedded', dataDir: '/tmp/x' });
  });

  it('never echoes a DATABASE_URL it cannot parse', () => {
    expect(() => resolveDatabaseConfig({ DATABASE_URL: 'user=a password=s3cret' })).toThrow(/^DATABASE_URL is not a valid URL/);
    try {
      resolveDatabaseConfig({ DATABASE_URL: 'user=a password=s3cret' });
    } catch (error) {
      expect((error as Error).message).not.toContain('s3cret');
    }
    expect(() => resolveDatabaseConfig({ DATABASE_URL: 'mysql://a:b@h/d' })).toThrow(/must use postgres:\/\//);
  });
});

describe('secrets from files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-sync-secret-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const secretFile = (name: string, content: string, mode = 0o600) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content, { mode });
    fs.chmodSync(file, mode);
    return file;
  };

  it('reads the API key and DATABASE_URL from private files, without their final newline', () => {
    const config = resolveSyncConfig(
      {},
      {
        WHATSAPP_NODE_API_KEY_FILE: secretFile('key', 'k3y-from-a-file-0123456789\n'),
        DATABASE_URL_FILE: secretFile('db', 'postgres://sync:s3cret@db.internal:5433/accounts\n'),
      },
      false,
    );
    expect(config.apiKey).toBe('k3y-from-a-file-0123456789');
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgres://sync:s3cret@db.internal:5433/accounts', label: 'db.internal:5433/accounts' });
  });

  it('refuses a file others may read, naming the rule and never the content', () => {
    const file = secretFile('db', 'postgres://sync:s3cret@db/x', 0o644);
    expect(() => resolveDatabaseConfig({ DATABASE_URL_FILE: file })).toThrow(new ConfigError(`DATABASE_URL_FILE: ${file} is open to group or others (mode 0644): chmod 600 it`));
  });

  it('refuses a secret given both ways, and a file that is missing', () => {
    const file = secretFile('key', 'k3y-from-a-file-0123456789');
    expect(() => resolveSyncConfig({}, { WHATSAPP_NODE_API_KEY: 'k3y-in-the-env-0123456789', WHATSAPP_NODE_API_KEY_FILE: file }, false)).toThrow(
      new ConfigError('WHATSAPP_NODE_API_KEY and WHATSAPP_NODE_API_KEY_FILE: set one of them, not both'),
    );
    expect(() => resolveSyncConfig({}, { WHATSAPP_NODE_API_KEY_FILE: path.join(dir, 'none') }, false)).toThrow(
      new ConfigError(`WHATSAPP_NODE_API_KEY_FILE: cannot read ${path.join(dir, 'none')} (ENOENT)`),
    );
  });
});

describe('the fleet and --watch', () => {
  it('reads WHATSAPP_NODE_SERVICE_URLS trimmed, without trailing slashes, each URL once', () => {
    const config = resolveSyncConfig({}, { WHATSAPP_NODE_SERVICE_URLS: ' http://w1:3001/ ,https://w2:3001,http://w1:3001' }, false);
    expect(config.fleet).toEqual(['http://w1:3001', 'https://w2:3001']);
    expect(config.workerUrl).toBe('http://w1:3001');
  });

  it('keeps the single-worker sync with WHATSAPP_NODE_SERVICE_URL alone (no fleet)', () => {
    expect(resolveSyncConfig({}, { WHATSAPP_NODE_SERVICE_URL: 'http://w1:3001' }, false)).toMatchObject({ fleet: null, workerUrl: 'http://w1:3001' });
  });

  it('names the bad entry of the list', () => {
    const resolve = (urls: string) => () => resolveSyncConfig({}, { WHATSAPP_NODE_SERVICE_URLS: urls }, false);
    expect(resolve('http://w1:3001,ftp://w2')).toThrow(new ConfigError('WHATSAPP_NODE_SERVICE_URLS entry 2 must be an http(s) URL, got ftp:// ("w2")'));
    expect(resolve('http://w1:3001,,http://w2')).toThrow(new ConfigError('WHATSAPP_NODE_SERVICE_URLS entry 2 is empty (a stray comma?)'));
    expect(resolve('nope')).toThrow(new ConfigError('WHATSAPP_NODE_SERVICE_URLS entry 1 is not a valid URL: "nope"'));
    expect(resolve('http://u:pw@w1:3001')).toThrow(
      new ConfigError('WHATSAPP_NODE_SERVICE_URLS entry 1 must not carry credentials or a query; use WHATSAPP_NODE_API_KEY'),
    );
  });

  it('refuses both variables set', () => {
    expect(() => resolveSyncConfig({}, { WHATSAPP_NODE_SERVICE_URL: 'http://w1', WHATSAPP_NODE_SERVICE_URLS: 'http://w1,http://w2' }, false)).toThrow(
      new ConfigError('WHATSAPP_NODE_SERVICE_URL and WHATSAPP_NODE_SERVICE_URLS are both set: set one (URLS for a fleet, URL for one worker)'),
    );
  });

  it('takes --watch alone as 15 seconds, --watch=N as N, and refuses anything else', () => {
    expect(resolveSyncConfig({}, {}, false).watchSeconds).toBeUndefined();
    expect(resolveSyncConfig({ watch: true }, {}, false).watchSeconds).toBe(15);
    expect(resolveSyncConfig({ watch: '30' }, {}, false).watchSeconds).toBe(30);
    expect(() => resolveSyncConfig({ watch: '0' }, {}, false)).toThrow(new ConfigError('--watch takes whole seconds from 1 to 86400 (--watch=15), got "0"'));
    expect(() => resolveSyncConfig({ watch: '1.5' }, {}, false)).toThrow(ConfigError);
  });

  it('gives drain the fleet, or the one worker', () => {
    expect(resolveDrainConfig({}, { WHATSAPP_NODE_SERVICE_URLS: 'http://w1,http://w2' }).fleet).toEqual(['http://w1', 'http://w2']);
    expect(resolveDrainConfig({}, {})).toMatchObject({ fleet: ['http://localhost:3001'], connectTimeoutMs: 120_000 });
  });
});
