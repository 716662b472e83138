import type { Pool } from 'pg';
import { toBusEvent, type BusEvent } from '../../bus/port';
import type { EventStore } from '../../eventstore/port';
import type { Logger } from '../../shared/logger';
import {
  AUDIT_CHECKPOINT,
  AUDIT_TABLE,
  inTransaction,
  PostgresAuditLog,
  saveCheckpoint,
  writeAuditBatch,
  type AuditTarget,
} from './postgres-audit-log';

export const AUDIT_REBUILD_TABLE = 'audit_log_next';
// Any constant, the same for every rebuilder: two rebuilds at once would share audit_log_next.
const REBUILD_LOCK = 1112294721;

export interface RebuildAuditLogOptions {
  pool: Pool;
  store: EventStore;
  logger: Logger;
  batchSize?: number;
  now?: () => Date;
  onProgress?: (progress: { events: number; position: bigint }) => void;
}

export interface RebuildAuditLogResult {
  events: number;
  /** Log position the new table is complete up to. */
  position: bigint;
  /** Where the previous rows now live (kept, still append-only). */
  retiredTable: string;
}

/**
 * Rebuilds the audit log from the event log without changing or removing a row: fills
 * audit_log_next (append-only from its creation), then, holding a lock that pauses the live
 * consumer's inserts, catches up to the head of the log and swaps the tables by renaming, in
 * one transaction. Readers see the old table until the commit, then the new one. The live
 * checkpoint is never moved backwards, and the live consumer's idempotent inserts make any
 * redelivery after the swap harmless.
 */
export async function rebuildAuditLog(options: RebuildAuditLogOptions): Promise<RebuildAuditLogResult> {
  const { pool, store, logger } = options;
  const batchSize = options.batchSize ?? 1000;
  const retiredTable = `${AUDIT_TABLE}_retired_${(options.now?.() ?? new Date()).toISOString().replace(/\D/g, '').slice(0, 14)}`;
  const target: AuditTarget = { table: AUDIT_REBUILD_TABLE, checkpoint: `${AUDIT_CHECKPOINT}:rebuild` };

  const lock = await pool.connect();
  try {
    const { rows } = await lock.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
      REBUILD_LOCK,
    ]);
    if (!rows[0]?.locked) throw new Error('Another audit log rebuild is running.');
    // A leftover of an interrupted rebuild was never live: start it again from scratch.
    await pool.query(`DROP TABLE IF EXISTS ${AUDIT_REBUILD_TABLE}`);
    await pool.query(`DELETE FROM checkpoints WHERE name = $1`, [target.checkpoint]);
    await pool.query(`CREATE TABLE ${AUDIT_REBUILD_TABLE} (LIKE ${AUDIT_TABLE} INCLUDING ALL)`);
    await pool.query('SELECT audit_log_make_append_only($1::regclass)', [AUDIT_REBUILD_TABLE]);

    const rebuilt = new PostgresAuditLog(pool, logger, target);
    const progress = { events: 0, position: 0n };
    const copy = async (write: (events: BusEvent[]) => Promise<unknown>): Promise<void> => {
      for (;;) {
        const recorded = await store.readAll({ after: progress.position, maxCount: batchSize });
        const last = recorded[recorded.length - 1];
        if (!last) return;
        await write(recorded.flatMap((event) => busEventOrSkip(event, logger)));
        progress.events += recorded.length;
        progress.position = last.position;
        options.onProgress?.({ ...progress });
      }
    };

    await copy((events) => rebuilt.applyBatch(events));
    await inTransaction(pool, async (client) => {
      // EXCLUSIVE pauses the live consumer's inserts (readers go on) until the swap commits.
      await client.query(`LOCK TABLE ${AUDIT_TABLE} IN EXCLUSIVE MODE`);
      await copy((events) => writeAuditBatch(client, target, events, logger));
      await client.query(`ALTER TABLE ${AUDIT_TABLE} RENAME TO ${retiredTable}`);
      await client.query(`ALTER TABLE ${AUDIT_REBUILD_TABLE} RENAME TO ${AUDIT_TABLE}`);
      await saveCheckpoint(client, AUDIT_CHECKPOINT, progress.position);
      await client.query('DELETE FROM checkpoints WHERE name = $1', [target.checkpoint]);
    });
    logger.info(
      { events: progress.events, position: progress.position.toString(), retiredTable },
      'audit log rebuilt',
    );
    return { events: progress.events, position: progress.position, retiredTable };
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [REBUILD_LOCK]).catch(() => undefined);
    lock.release();
  }
}

function busEventOrSkip(event: Parameters<typeof toBusEvent>[0], logger: Logger): BusEvent[] {
  try {
    return [toBusEvent(event)];
  } catch (error) {
    logger.warn(
      { eventId: event.id, reason: (error as Error).message },
      'audit log rebuild: skipped an event',
    );
    return [];
  }
}
