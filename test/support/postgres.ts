import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { migratePostgres } from '../../src/infra/postgres/migrate';
import { createPool } from '../../src/infra/postgres/pool';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:54320/billing_ledger';

export interface TestDatabase {
  url: string;
  pool: Pool;
  /** Ends the pool and drops the database (connections still open are closed by force). */
  drop(): Promise<void>;
}

/**
 * A fresh, migrated database on the server of DATABASE_URL, for one test file (or one bench
 * run): tests in parallel workers never see each other's rows.
 */
export async function createTestDatabase(
  options: { prefix?: string; migrate?: boolean } = {},
): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const name = `${options.prefix ?? 'test'}_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  await withAdmin(serverUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), { max: 20 });
  if (options.migrate ?? true) await migratePostgres(pool);
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      await withAdmin(serverUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

async function withAdmin<T>(serverUrl: string, work: (admin: Pool) => Promise<T>): Promise<T> {
  const admin = createPool(serverUrl, { max: 1 });
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}
