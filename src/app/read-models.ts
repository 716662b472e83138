import type { Config } from '../config/config';
import { createPool } from '../infra/postgres/pool';
import { auditReadModel } from '../projections/audit/audit-read-model';
import { DeadLetterStore } from '../runtime/dead-letters';
import type { ReadModel } from '../runtime/read-model';
import { createLogger } from '../shared/logger';
import { openReadSide } from './system';

export interface OpenedReadModels {
  /** Every read model the consumer runtime runs, by the same names (dead letters carry them). */
  models: ReadModel[];
  deadLetters: DeadLetterStore;
  close(): Promise<void>;
}

/**
 * The read models outside a running system, for the command line (`dead-letters replay`):
 * the same factories `start` uses, with connections of their own.
 */
export async function openReadModels(
  config: Config,
  namespace = 'billing-ledger',
): Promise<OpenedReadModels> {
  const logger = createLogger(config.LOG_LEVEL);
  const side = await openReadSide(config, namespace);
  const pool = createPool(config.DATABASE_URL, {
    application_name: 'billing-ledger:cli',
    max: 2,
    onIdleError: (error) => logger.warn({ err: error.message }, 'postgres connection lost'),
  });
  return {
    models: [side.model, auditReadModel({ pool, logger })],
    deadLetters: new DeadLetterStore(pool),
    async close() {
      await side.close();
      await pool.end();
    },
  };
}
