import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';

export type { ClickHouseClient };

export const CLICKHOUSE_DATABASE = 'billing';

/** The client's own console logger is off: failures reach the caller, which logs them once. */
const quiet = { level: ClickHouseLogLevel.OFF };

export interface ClickHouseOptions {
  /** Per request (queries, inserts, pings); default 30 s. */
  requestTimeoutMs?: number;
}

/** A client on the server in `url`, for the `billing` database (created when missing). */
export async function connectClickHouse(
  url: string,
  options: ClickHouseOptions = {},
): Promise<ClickHouseClient> {
  await ensureClickHouseDatabase(url, options);
  return createClickHouseClient(url, options);
}

/** A client for the `billing` database without touching the server (it may be down: nothing waits). */
export function createClickHouseClient(url: string, options: ClickHouseOptions = {}): ClickHouseClient {
  return createClient({
    url,
    database: CLICKHOUSE_DATABASE,
    request_timeout: options.requestTimeoutMs ?? 30_000,
    log: quiet,
  });
}

/** Creates the `billing` database when missing. */
export async function ensureClickHouseDatabase(url: string, options: ClickHouseOptions = {}): Promise<void> {
  const admin = createClient({ url, request_timeout: options.requestTimeoutMs ?? 30_000, log: quiet });
  try {
    await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${CLICKHOUSE_DATABASE}` });
  } finally {
    await admin.close();
  }
}

export async function pingClickHouse(client: ClickHouseClient): Promise<void> {
  const result = await client.ping();
  if (!result.success) throw result.error;
}
