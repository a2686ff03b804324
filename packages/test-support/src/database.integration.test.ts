import { Client } from 'pg';
import { createTestDatabase, DEFAULT_PG_ADMIN_URL } from './database';

async function databaseExists(name: string): Promise<boolean> {
  const admin = new Client({ connectionString: DEFAULT_PG_ADMIN_URL });
  await admin.connect();
  try {
    return (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await admin.end();
  }
}

describe('createTestDatabase (real Postgres on 127.0.0.1:5432)', () => {
  it('makes a fresh database of its own, with a client and a URL that carries the given password, and drops it', async () => {
    const db = await createTestDatabase({ prefix: 'wa_support_test', password: 'ignored-by-trust-auth' });
    try {
      expect(db.name).toMatch(/^wa_support_test_[0-9a-f]{12}$/);
      expect(db.url).toBe(`postgres://postgres:ignored-by-trust-auth@127.0.0.1:5432/${db.name}`);
      expect(await db.query<{ name: string }>('SELECT current_database() AS name')).toEqual([{ name: db.name }]);
      expect((await db.client.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).rows).toEqual([{ n: 0 }]);
      expect(await databaseExists(db.name)).toBe(true);
    } finally {
      await db.drop();
    }
    expect(await databaseExists(db.name)).toBe(false);
  });
});
