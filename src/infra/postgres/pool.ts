import { Pool, type PoolConfig } from 'pg';

export interface CreatePoolOptions extends Omit<PoolConfig, 'connectionString'> {
  /** An idle connection failed (e.g. the server restarted). The pool replaces it on next use. */
  onIdleError?: (error: Error) => void;
}

/** A pg pool for a postgres:// URL. int8 columns still come back as strings: convert where read. */
export function createPool(url: string, options: CreatePoolOptions = {}): Pool {
  const { onIdleError = () => undefined, ...config } = options;
  const pool = new Pool({ connectionString: url, application_name: 'billing-ledger', ...config });
  // Without a listener an idle client's error would crash the process.
  pool.on('error', onIdleError);
  return pool;
}
