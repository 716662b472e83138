import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { migratePostgres } from '../../src/infra/postgres/migrate';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

describe('migratePostgres', () => {
  let db: TestDatabase;
  let dir: string;
  beforeEach(async () => {
    db = await createTestDatabase({ prefix: 'migrate', migrate: false });
    dir = await mkdtemp(path.join(tmpdir(), 'migrations-'));
    await writeFile(path.join(dir, '0002_b.sql'), 'INSERT INTO t VALUES (2);');
    await writeFile(
      path.join(dir, '0001_a.sql'),
      'CREATE TABLE t (n int PRIMARY KEY); INSERT INTO t VALUES (1);',
    );
    await writeFile(path.join(dir, 'README.md'), 'not a migration');
  });
  afterEach(async () => {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const rows = async (sql: string): Promise<unknown[]> => (await db.pool.query(sql)).rows;

  it('applies every .sql file once, in name order, even when several starters race', async () => {
    const applied = await Promise.all([1, 2, 3].map(() => migratePostgres(db.pool, { dir })));
    expect(applied.flat().sort()).toEqual(['0001_a.sql', '0002_b.sql']);
    expect(await rows('SELECT n FROM t ORDER BY n')).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await migratePostgres(db.pool, { dir })).toEqual([]);
  });

  it('picks up a file added later and applies only that one', async () => {
    await migratePostgres(db.pool, { dir });
    await writeFile(path.join(dir, '0003_c.sql'), 'INSERT INTO t VALUES (3);');
    expect(await migratePostgres(db.pool, { dir })).toEqual(['0003_c.sql']);
    expect(await rows('SELECT name FROM schema_migrations ORDER BY name')).toEqual([
      { name: '0001_a.sql' },
      { name: '0002_b.sql' },
      { name: '0003_c.sql' },
    ]);
  });

  it('rolls a failing migration back whole, records nothing for it, and names it', async () => {
    await writeFile(
      path.join(dir, '0003_bad.sql'),
      'INSERT INTO t VALUES (3); INSERT INTO nowhere VALUES (1);',
    );
    await expect(migratePostgres(db.pool, { dir })).rejects.toThrow(/0003_bad\.sql/);
    expect(await rows('SELECT n FROM t ORDER BY n')).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await rows("SELECT name FROM schema_migrations WHERE name = '0003_bad.sql'")).toEqual([]);
  });

  it('ships the event store migration by default', async () => {
    expect(await migratePostgres(db.pool)).toContain('0001_event_store.sql');
    expect(await rows("SELECT to_regclass('events') IS NOT NULL AS exists")).toEqual([{ exists: true }]);
  });
});
