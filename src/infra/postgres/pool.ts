import { Pool, type PoolConfig } from 'pg';

export interface CreatePoolOptions extends Omit<PoolConfig, 'connectionString'> {
  /**
   * A connection failed (e.g. the server restarted), idle in the pool or checked out between
   * queries. The pool drops it and connects a new one on next use; the holder's next query fails.
   */
  onIdleError?: (error: Error) => void;
}

/** A pg pool for a postgres:// URL. int8 columns still come back as strings: convert where read. */
export function createPool(url: string, options: CreatePoolOptions = {}): Pool {
  const { onIdleError = () => undefined, ...config } = options;
  const pool = new Pool({ connectionString: url, application_name: 'billing-ledger', ...config });
  // Without a listener an idle client's error would crash the process.
  pool.on('error', onIdleError);
  // The pool listens only while a client is idle: a checked-out client that loses its server
  // between queries (a transaction held across other work) would emit an unhandled 'error'.
  pool.on('connect', (client) => {
    client.on('error', onIdleError);
  });
  return pool;
}
