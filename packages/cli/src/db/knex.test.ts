import { asDatabaseError, redact } from './knex';
import { DatabaseUnavailableError, SchemaMissingError } from '../errors';

const URL_WITH_PASSWORD = 'postgres://app:p%40ss-w0rd@db.internal:6543/accounts';
const config = { kind: 'postgres' as const, url: URL_WITH_PASSWORD, label: 'db.internal:6543/accounts' };

describe('redact', () => {
  it('removes the password, raw or decoded, and any credentials in a connection string', () => {
    const text = 'failed for postgres://app:p%40ss-w0rd@db.internal:6543/accounts (password p@ss-w0rd) and postgresql://x:y@z/w';
    const out = redact(text, URL_WITH_PASSWORD);
    expect(out).not.toMatch(/p%40ss-w0rd|p@ss-w0rd|x:y@/);
    expect(out).toContain('db.internal:6543/accounts');
  });
});

describe('asDatabaseError', () => {
  it('names the database, never the password', () => {
    const error = asDatabaseError(new Error('password authentication failed for p@ss-w0rd'), config);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error.message).toBe('the database at db.internal:6543/accounts failed: password authentication failed for ***');
  });

  it('passes our own errors through', () => {
    const own = new SchemaMissingError('run migrate');
    expect(asDatabaseError(own, config)).toBe(own);
  });
});
