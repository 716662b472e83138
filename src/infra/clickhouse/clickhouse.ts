import { createClient, type ClickHouseClient } from '@clickhouse/client';

export type { ClickHouseClient };

export const CLICKHOUSE_DATABASE = 'billing';

/** A client on the server in `url`, for the `billing` database (created when missing). */
export async function connectClickHouse(url: string): Promise<ClickHouseClient> {
  const admin = createClient({ url, request_timeout: 30_000 });
  try {
    await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${CLICKHOUSE_DATABASE}` });
  } finally {
    await admin.close();
  }
  return createClient({ url, database: CLICKHOUSE_DATABASE, request_timeout: 30_000 });
}

export async function pingClickHouse(client: ClickHouseClient): Promise<void> {
  const result = await client.ping();
  if (!result.success) throw result.error;
}
