import type { ClientBase } from 'pg';

/** A pool or a client in a transaction. */
export type Queryable = Pick<ClientBase, 'query'>;

/**
 * Per-partition checkpoints of a PostgreSQL read model (table consumer_checkpoints): saved in
 * the transaction of the effect, read back by prepare().
 */
export async function loadConsumerCheckpoints(db: Queryable, consumer: string): Promise<Map<number, string>> {
  const { rows } = await db.query<{ kafka_partition: number; next_offset: string }>(
    'SELECT kafka_partition, next_offset FROM consumer_checkpoints WHERE consumer = $1',
    [consumer],
  );
  return new Map(rows.map((row) => [row.kafka_partition, String(row.next_offset)]));
}

/** GREATEST: a late batch of a previous owner of the partition never moves it backwards. */
export async function saveConsumerCheckpoint(
  db: Queryable,
  consumer: string,
  partition: number,
  nextOffset: string,
): Promise<void> {
  await db.query(
    `INSERT INTO consumer_checkpoints (consumer, kafka_partition, next_offset) VALUES ($1, $2, $3)
     ON CONFLICT (consumer, kafka_partition) DO UPDATE
       SET next_offset = GREATEST(consumer_checkpoints.next_offset, EXCLUDED.next_offset), updated_at = now()`,
    [consumer, partition, nextOffset],
  );
}
