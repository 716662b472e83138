import { postgresJson } from '../infra/postgres/text';
import type { Pool } from 'pg';
import { customerKeyOf } from './customer-key';
import type { InboxEntry } from './inbox';

export type IntakeEntry = Omit<InboxEntry, 'attempts' | 'customerKey'>;

interface Waiting {
  entry: IntakeEntry;
  resolve(stored: boolean): void;
  reject(error: unknown): void;
}

export interface InboxIntakeOptions {
  /** Most rows in one INSERT. */
  maxBatch?: number;
  /** INSERTs in flight at once (each holds one connection of the intake pool). */
  maxInFlight?: number;
}

/**
 * Group commit for webhook intake. Every delivery must be durable before it is acknowledged,
 * and a commit waits for the disk: one INSERT per delivery caps intake at the disk's flush rate.
 * Deliveries that arrive while INSERTs are in flight wait and go together in the next one, so
 * a quiet system inserts each delivery at once and a busy one amortises the flush over many.
 * Each caller learns whether its event id was new (false: a redelivery, or a duplicate of an
 * earlier delivery in the same batch).
 */
export class InboxIntake {
  private readonly queue: Waiting[] = [];
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly pool: Pool,
    options: InboxIntakeOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    this.maxInFlight = options.maxInFlight ?? 4;
  }

  store(entry: IntakeEntry): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight += 1;
      void this.insert(batch).finally(() => {
        this.inFlight -= 1;
        this.flush();
      });
    }
  }

  private async insert(batch: Waiting[]): Promise<void> {
    // One row per event id: a second delivery of the same id in this batch is a duplicate.
    const first = new Map<string, Waiting>();
    for (const waiting of batch)
      if (!first.has(waiting.entry.stripeEventId)) first.set(waiting.entry.stripeEventId, waiting);
    try {
      const rows = [...first.values()].map(({ entry }) => ({
        stripe_event_id: entry.stripeEventId,
        event_type: entry.eventType,
        payload: entry.payload,
        stripe_created: entry.stripeCreated.toISOString(),
        customer_key: customerKeyOf(entry.eventType, entry.payload),
      }));
      const { rows: inserted } = await this.pool.query<{ stripe_event_id: string }>(
        `INSERT INTO stripe_inbox (stripe_event_id, event_type, payload, stripe_created, customer_key)
         SELECT r.stripe_event_id, r.event_type, r.payload, r.stripe_created, r.customer_key
           FROM jsonb_to_recordset($1::jsonb)
             AS r(stripe_event_id text, event_type text, payload jsonb, stripe_created timestamptz, customer_key text)
         ON CONFLICT (stripe_event_id) DO NOTHING
         RETURNING stripe_event_id`,
        [postgresJson(rows)],
      );
      const stored = new Set(inserted.map((row) => row.stripe_event_id));
      for (const waiting of batch)
        waiting.resolve(
          first.get(waiting.entry.stripeEventId) === waiting && stored.has(waiting.entry.stripeEventId),
        );
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    }
  }
}
