import type { Pool, PoolClient } from 'pg';

/** A verified Stripe webhook delivery, as stored in the inbox. */
export interface InboxEntry {
  stripeEventId: string;
  eventType: string;
  payload: Record<string, unknown>;
  stripeCreated: Date;
  attempts: number;
}

export type InboxOutcome =
  | { status: 'processed'; detail: unknown }
  | { status: 'unhandled'; detail: unknown }
  | { status: 'invalid'; detail: unknown };

/** The inbox: durable before acknowledged, unique on the Stripe event id. */
export class PostgresInbox {
  constructor(private readonly pool: Pool) {}

  /** Stores the delivery; returns false when the event id was already stored (a redelivery). */
  async store(entry: Omit<InboxEntry, 'attempts'>): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO stripe_inbox (stripe_event_id, event_type, payload, stripe_created)
       VALUES ($1, $2, $3, $4) ON CONFLICT (stripe_event_id) DO NOTHING`,
      [entry.stripeEventId, entry.eventType, JSON.stringify(entry.payload), entry.stripeCreated],
    );
    return result.rowCount === 1;
  }

  /**
   * Claims up to `limit` due entries and runs `work` on each inside the claiming transaction,
   * so two workers never process the same entry and a crash leaves it pending.
   * Returns how many entries were handled.
   */
  async processDue(
    limit: number,
    work: (entry: InboxEntry) => Promise<InboxOutcome>,
    onError: (entry: InboxEntry, error: unknown) => void,
  ): Promise<number> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query(
        `SELECT stripe_event_id, event_type, payload, stripe_created, attempts
           FROM stripe_inbox
          WHERE status = 'pending' AND next_attempt_at <= now()
          ORDER BY stripe_created, stripe_event_id
          LIMIT $1
          FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      for (const row of rows) {
        const entry: InboxEntry = {
          stripeEventId: row.stripe_event_id,
          eventType: row.event_type,
          payload: row.payload,
          stripeCreated: row.stripe_created,
          attempts: row.attempts,
        };
        await this.settle(client, entry, work, onError);
      }
      await client.query('COMMIT');
      return rows.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async settle(
    client: PoolClient,
    entry: InboxEntry,
    work: (entry: InboxEntry) => Promise<InboxOutcome>,
    onError: (entry: InboxEntry, error: unknown) => void,
  ): Promise<void> {
    try {
      const outcome = await work(entry);
      await client.query(
        `UPDATE stripe_inbox SET status = $2, outcome = $3, attempts = attempts + 1, processed_at = now(), last_error = NULL
          WHERE stripe_event_id = $1`,
        [entry.stripeEventId, outcome.status, JSON.stringify(outcome.detail ?? null)],
      );
    } catch (error) {
      onError(entry, error);
      // Infrastructure failure: keep it pending and retry with exponential backoff (max 5 min).
      const delaySeconds = Math.min(300, 2 ** Math.min(entry.attempts, 8));
      await client.query(
        `UPDATE stripe_inbox SET attempts = attempts + 1, last_error = $2,
                next_attempt_at = now() + make_interval(secs => $3)
          WHERE stripe_event_id = $1`,
        [entry.stripeEventId, String((error as Error)?.stack ?? error).slice(0, 4000), delaySeconds],
      );
    }
  }

  async counts(): Promise<Record<string, number>> {
    const { rows } = await this.pool.query(
      `SELECT status, count(*)::int AS n FROM stripe_inbox GROUP BY status`,
    );
    return Object.fromEntries(rows.map((r) => [r.status as string, r.n as number]));
  }
}
