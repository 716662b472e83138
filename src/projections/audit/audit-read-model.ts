import type { Pool } from 'pg';
import { loadConsumerCheckpoints, saveConsumerCheckpoint } from '../../runtime/consumer-checkpoints';
import type { ReadModel } from '../../runtime/read-model';
import type { Logger } from '../../shared/logger';
import {
  AUDIT_CHECKPOINT,
  AUDIT_TABLE,
  inTransaction,
  writeAuditBatch,
  type AuditTarget,
} from './postgres-audit-log';

export const AUDIT_READ_MODEL = 'audit-log';

export interface AuditReadModelOptions {
  pool: Pool;
  logger: Logger;
  /** Key of its rows in consumer_checkpoints (default `audit-log`). */
  checkpointName?: string;
}

/**
 * The audit log on the consumer runtime: each partition batch writes its rows and the
 * partition's next offset in one transaction, and prepare() answers those offsets, so a crash
 * anywhere resumes exactly where the table stands. A malformed event is refused and dead-lettered.
 */
export function auditReadModel(options: AuditReadModelOptions): ReadModel {
  const { pool, logger } = options;
  const consumer = options.checkpointName ?? AUDIT_READ_MODEL;
  const target: AuditTarget = { table: AUDIT_TABLE, checkpoint: AUDIT_CHECKPOINT };
  return {
    name: AUDIT_READ_MODEL,
    prepare: () => loadConsumerCheckpoints(pool, consumer),
    apply: (batch) =>
      inTransaction(pool, async (client) => {
        await writeAuditBatch(client, target, batch.events, logger, { strict: true });
        await saveConsumerCheckpoint(client, consumer, batch.partition, batch.nextOffset);
      }),
    // ON CONFLICT DO NOTHING: replaying an event the table holds already changes nothing.
    replay: async (event) => {
      await inTransaction(pool, (client) =>
        writeAuditBatch(client, target, [event], logger, { strict: true }),
      );
    },
  };
}
