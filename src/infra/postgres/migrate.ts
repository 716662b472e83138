import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Pool } from 'pg';

export interface MigrateOptions {
  /** Folder of `*.sql` files, applied in name order. Defaults to ./migrations beside this module. */
  dir?: string;
  log?: (line: string) => void;
}

// Any constant will do, as long as every starter uses the same one.
const MIGRATION_LOCK = 1112294733;

/**
 * Applies the migrations not applied yet, each in its own transaction, and records them in
 * `schema_migrations`. A session advisory lock makes concurrent starters wait for each other,
 * so it is safe to call from every process at start. Returns the names applied now.
 */
export async function migratePostgres(pool: Pool, options: MigrateOptions = {}): Promise<string[]> {
  const dir = options.dir ?? defaultMigrationsDir();
  const files = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map(
        (row) => row.name,
      ),
    );
    const applied: string[] = [];
    for (const name of files.filter((file) => !done.has(file))) {
      const sql = await readFile(path.join(dir, name), 'utf8');
      try {
        await client.query('BEGIN');
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [
          name,
          sha256(sql),
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`Migration ${name} failed: ${(error as Error).message}`, { cause: error });
      }
      options.log?.(`migrated ${name}`);
      applied.push(name);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
}

/** Beside this module in the sources; a build (dist/) does not copy .sql files, so fall back to src/. */
function defaultMigrationsDir(): string {
  const beside = path.join(__dirname, 'migrations');
  if (existsSync(beside)) return beside;
  return path.resolve(__dirname, '..', '..', '..', 'src', 'infra', 'postgres', 'migrations');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
