import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** Where test databases are made and dropped: the local Postgres, trust auth. */
export const DEFAULT_PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabaseOptions {
  /** The database is `<prefix>_<random>` (`wa_test`). */
  prefix?: string;
  /** A database on which `CREATE DATABASE` and `DROP DATABASE` may run ({@link DEFAULT_PG_ADMIN_URL}). */
  adminUrl?: string;
  /** Put in {@link TestDatabase.url}; trust auth ignores it, so a test can prove it is never printed. */
  password?: string;
}

/** A fresh, empty database of its own; `drop()` removes it WITH (FORCE). */
export interface TestDatabase {
  name: string;
  /** Its connection URL (with the password, when one was given). */
  url: string;
  /** A client connected to it. */
  client: Client;
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

async function onAdmin(adminUrl: string, sql: string): Promise<void> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = options.adminUrl ?? DEFAULT_PG_ADMIN_URL;
  const name = `${options.prefix ?? 'wa_test'}_${randomBytes(6).toString('hex')}`;
  await onAdmin(adminUrl, `CREATE DATABASE ${name}`);
  const address = new URL(adminUrl);
  address.pathname = `/${name}`;
  const client = new Client({ connectionString: address.toString() });
  await client.connect();
  if (options.password) address.password = options.password;
  return {
    name,
    url: address.toString(),
    client,
    query: async (sql, params) => (await client.query(sql, params)).rows,
    drop: async () => {
      await client.end().catch(() => undefined);
      await onAdmin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
