import { postgresJson } from '../../infra/postgres/text';
import type { Pool, PoolClient } from 'pg';
import type { BusEvent } from '../../bus/port';
import type { Logger } from '../../shared/logger';
import { auditEntryOf, type AuditEntry } from './audit-entry';

export const AUDIT_TABLE = 'audit_log';
export const AUDIT_CHECKPOINT = 'audit-log';

export interface AuditTarget {
  /** A table shaped like audit_log (the live one, or a rebuild's). */
  table: string;
  /** Row name in `checkpoints`. */
  checkpoint: string;
}

export interface AuditBatchResult {
  inserted: number;
  /** Already in the table: a redelivery or a replay. */
  duplicates: number;
  /** Malformed envelopes, logged and left out. */
  skipped: number;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`Not a plain SQL identifier: ${JSON.stringify(name)}`);
  return name;
}

/** The columns, in insert order, with their SQL types; jsonb_to_recordset reads the batch by these names. */
const COLUMNS: ReadonlyArray<readonly [column: string, type: string, value: (e: AuditEntry) => unknown]> = [
  ['event_id', 'uuid', (e) => e.eventId],
  ['customer_id', 'text', (e) => e.customerId],
  ['subscription_id', 'text', (e) => e.subscriptionId],
  ['event_type', 'text', (e) => e.eventType],
  ['stream_name', 'text', (e) => e.streamName],
  ['stream_revision', 'integer', (e) => e.streamRevision],
  ['log_position', 'bigint', (e) => e.position],
  ['summary', 'text', (e) => e.summary],
  ['changes', 'jsonb', (e) => e.changes],
  ['source', 'text', (e) => e.source],
  ['source_ref', 'text', (e) => e.sourceRef],
  ['stripe_event_id', 'text', (e) => e.stripeEventId],
  ['stripe_event_type', 'text', (e) => e.stripeEventType],
  ['correlation_id', 'text', (e) => e.correlationId],
  ['causation_id', 'text', (e) => e.causationId],
  ['schema_version', 'integer', (e) => e.schemaVersion],
  ['occurred_at', 'timestamptz', (e) => e.occurredAt],
  ['recorded_at', 'timestamptz', (e) => e.recordedAt],
];

const columnList = COLUMNS.map(([column]) => column).join(', ');
const recordType = COLUMNS.map(([column, type]) => `${column} ${type}`).join(', ');

/** An event the audit log cannot key, order or date: the live consumer dead-letters it. */
export class MalformedAuditEvent extends Error {
  readonly code = 'AUDIT.MALFORMED_EVENT';
  constructor(eventId: unknown, reason: string) {
    super(`event ${String(eventId)}: ${reason}`);
    this.name = 'MalformedAuditEvent';
  }
}

/**
 * Writes one batch and the checkpoint with the client's current transaction (the caller
 * begins and commits). Idempotent: a row whose event id is stored already is left alone.
 * A malformed event is logged and left out, or with `strict` refused (MalformedAuditEvent).
 */
export async function writeAuditBatch(
  client: PoolClient,
  target: AuditTarget,
  events: readonly unknown[],
  logger: Logger,
  options: { strict?: boolean } = {},
): Promise<AuditBatchResult> {
  const table = assertIdentifier(target.table);
  const entries = new Map<string, AuditEntry>();
  let skipped = 0;
  for (const raw of events) {
    const result = auditEntryOf(raw);
    if (result.ok) {
      entries.set(result.entry.eventId, result.entry);
    } else {
      const eventId = (raw as { eventId?: unknown } | null)?.eventId;
      if (options.strict) throw new MalformedAuditEvent(eventId, result.reason);
      skipped += 1;
      logger.warn(
        { consumer: 'audit-log', eventId, reason: result.reason },
        'audit log: skipped a malformed event',
      );
    }
  }
  if (entries.size === 0) return { inserted: 0, duplicates: 0, skipped };

  const rows = [...entries.values()].map((entry) =>
    Object.fromEntries(COLUMNS.map(([column, , value]) => [column, value(entry)])),
  );
  const inserted = await client.query(
    `INSERT INTO ${table} (${columnList})
     SELECT ${columnList} FROM jsonb_to_recordset($1::jsonb) AS r(${recordType})
     ORDER BY log_position
     ON CONFLICT (event_id) DO NOTHING`,
    [postgresJson(rows)],
  );
  const last = [...entries.values()].reduce(
    (max, entry) => (BigInt(entry.position) > max ? BigInt(entry.position) : max),
    0n,
  );
  await saveCheckpoint(client, target.checkpoint, last);
  const count = inserted.rowCount ?? 0;
  return { inserted: count, duplicates: entries.size - count, skipped };
}

/** In the caller's transaction; GREATEST: a checkpoint never moves backwards, whatever order batches commit in. */
export async function saveCheckpoint(client: PoolClient, name: string, position: bigint): Promise<void> {
  await client.query(
    `INSERT INTO checkpoints (name, position) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET position = GREATEST(checkpoints.position, EXCLUDED.position), updated_at = now()`,
    [name, position.toString()],
  );
}

/** Runs `work` in one transaction on one pooled client. */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Rows and the log-position checkpoint in one transaction, leniently (malformed events are logged
 * and left out): what the rebuild fills its table with. The live consumer is auditReadModel.
 */
export class PostgresAuditLog {
  private readonly target: AuditTarget;

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    target: Partial<AuditTarget> = {},
  ) {
    this.target = {
      table: assertIdentifier(target.table ?? AUDIT_TABLE),
      checkpoint: target.checkpoint ?? AUDIT_CHECKPOINT,
    };
  }

  async applyBatch(events: BusEvent[]): Promise<AuditBatchResult> {
    return inTransaction(this.pool, (client) => writeAuditBatch(client, this.target, events, this.logger));
  }
}
