import type { Pool } from 'pg';

/** The event log's identity (migration 0006): a uuid created once with the log, never changed. */
export async function readLedgerIdentity(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ id: string }>('SELECT id::text AS id FROM ledger_identity');
  const id = rows[0]?.id;
  if (!id) throw new Error('ledger_identity has no row: run `billing-ledger migrate`');
  return id;
}
