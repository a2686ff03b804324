import path from 'node:path';
import { resolveDatabaseConfig, resolveSyncConfig } from './config';
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
    });
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
    [{ WA_SYNC_RECONNECT_MAX_ATTEMPTS: '0' }, /WA_SYNC_RECONNECT_MAX_ATTEMPTS must be a positive integer/],
    [{ WA_SYNC_REQUEST_TIMEOUT_MS: '1.5' }, /WA_SYNC_REQUEST_TIMEOUT_MS must be a positive integer/],
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
