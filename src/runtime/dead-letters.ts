import { postgresJson, postgresText } from '../infra/postgres/text';
import { busEventSchema, type BusEvent } from '../bus/port';
import type { Queryable } from './consumer-checkpoints';
import type { ReadModel } from './read-model';
import { describeError } from './transient';

/** A bus message a consumer could not use, with where it was and why. */
export interface DeadLetter {
  /** Read model or saga name (ReadModel.name). */
  consumer: string;
  group: string;
  topic: string;
  partition: number;
  offset: string;
  reason: string;
  /** The parsed event, when the message was one (only those can be replayed). */
  event?: BusEvent;
  /** The message as received, when it could not be parsed. */
  raw?: string;
}

export interface StoredDeadLetter extends DeadLetter {
  id: string;
  createdAt: Date;
  replayedAt: Date | null;
}

export interface DeadLetterQuery {
  consumer?: string;
  id?: string;
  /** Replayed ones too (default: pending only). */
  all?: boolean;
}

interface Row {
  id: string;
  consumer: string;
  consumer_group: string;
  topic: string;
  kafka_partition: number;
  kafka_offset: string;
  reason: string;
  payload: unknown;
  raw: string | null;
  created_at: Date;
  replayed_at: Date | null;
}

/** Dead letters in PostgreSQL (table dead_letters, migration 0004). */
export class DeadLetterStore {
  constructor(private readonly db: Queryable) {}

  /** Stores a letter; false when the same letter was stored already (a redelivered batch). */
  async record(letter: DeadLetter): Promise<boolean> {
    const event = letter.event;
    const result = await this.db.query(
      `INSERT INTO dead_letters (consumer, consumer_group, topic, kafka_partition, kafka_offset,
         event_id, event_type, stream_name, log_position, reason, payload, raw)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT DO NOTHING`,
      [
        letter.consumer,
        letter.group,
        letter.topic,
        letter.partition,
        letter.offset,
        event?.eventId ?? null,
        event?.type ?? null,
        event?.streamName ?? null,
        event?.position ?? null,
        postgresText(letter.reason),
        event ? postgresJson(event) : null,
        event ? null : postgresText(letter.raw ?? ''),
      ],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async list(query: DeadLetterQuery = {}): Promise<StoredDeadLetter[]> {
    const { rows } = await this.db.query<Row>(
      `SELECT id, consumer, consumer_group, topic, kafka_partition, kafka_offset, reason, payload, raw,
              created_at, replayed_at
         FROM dead_letters
        WHERE ($1::text IS NULL OR consumer = $1)
          AND ($2::bigint IS NULL OR id = $2)
          AND ($3 OR replayed_at IS NULL)
        ORDER BY id`,
      [query.consumer ?? null, query.id ?? null, query.all ?? false],
    );
    return rows.map(fromRow);
  }

  async countPending(consumer: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM dead_letters WHERE consumer = $1 AND replayed_at IS NULL',
      [consumer],
    );
    return rows[0]?.n ?? 0;
  }

  async markReplayed(id: string): Promise<void> {
    await this.db.query('UPDATE dead_letters SET replayed_at = now() WHERE id = $1', [id]);
  }
}

function fromRow(row: Row): StoredDeadLetter {
  const parsed = row.payload === null ? null : busEventSchema.safeParse(row.payload);
  return {
    id: String(row.id),
    consumer: row.consumer,
    group: row.consumer_group,
    topic: row.topic,
    partition: row.kafka_partition,
    offset: String(row.kafka_offset),
    reason: row.reason,
    ...(parsed?.success ? { event: parsed.data } : {}),
    ...(row.raw !== null ? { raw: row.raw } : {}),
    createdAt: row.created_at,
    replayedAt: row.replayed_at,
  };
}

export interface ReplayOutcome {
  letter: StoredDeadLetter;
  outcome: 'replayed' | 'failed' | 'not_an_event';
  /** Why it failed, or why it cannot be replayed. */
  detail?: string;
}

/**
 * Re-applies pending letters through their model's replay(event) and marks each replayed one;
 * a letter that fails again stays pending with the new reason in the outcome. A message that
 * was never a bus event cannot be replayed: it stays pending for a person to look at.
 */
export async function replayDeadLetters(
  store: DeadLetterStore,
  models: readonly ReadModel[],
  query: Omit<DeadLetterQuery, 'all'> = {},
): Promise<ReplayOutcome[]> {
  const byName = new Map(models.map((model) => [model.name, model]));
  const outcomes: ReplayOutcome[] = [];
  for (const letter of await store.list(query)) {
    const model = byName.get(letter.consumer);
    if (!letter.event) {
      outcomes.push({ letter, outcome: 'not_an_event', detail: 'not a bus event: nothing to replay' });
    } else if (!model) {
      outcomes.push({ letter, outcome: 'failed', detail: `no read model named ${letter.consumer}` });
    } else {
      try {
        await model.replay(letter.event);
        await store.markReplayed(letter.id);
        outcomes.push({ letter, outcome: 'replayed' });
      } catch (error) {
        outcomes.push({ letter, outcome: 'failed', detail: describeError(error) });
      }
    }
  }
  return outcomes;
}
