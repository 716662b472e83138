import type { Pool, PoolClient } from 'pg';
import { InboxIntake, type IntakeEntry } from './inbox-intake';

/** A verified Stripe webhook delivery, as stored in the inbox. */
export interface InboxEntry {
  stripeEventId: string;
  eventType: string;
  payload: Record<string, unknown>;
  stripeCreated: Date;
  attempts: number;
  /** The customer it is about (customer-key.ts): one customer's entries are handled in order, by one worker at a time. */
  customerKey?: string;
}

export type InboxOutcome =
  | { status: 'processed'; detail: unknown }
  | { status: 'unhandled'; detail: unknown }
  | { status: 'invalid'; detail: unknown };

/** What a worker did with one claimed entry. */
export type Settlement =
  | { entry: InboxEntry; outcome: InboxOutcome }
  /** An infrastructure failure: retried with backoff; the customer's later entries wait for it. */
  | { entry: InboxEntry; error: unknown }
  /** Not handled this time (an earlier entry of its customer failed, or its append conflicted): stays pending as it was. */
  | { entry: InboxEntry; released: true };

/** One customer's claimed entries, in Stripe order (created, then event id). */
export interface CustomerEntries {
  customerKey: string;
  entries: InboxEntry[];
}

/**
 * A claimed batch: its rows are locked, and its customers held (no other worker takes any of
 * their entries) until `transaction` commits. Whatever the worker writes on `transaction`
 * commits with the entries' outcomes.
 */
export interface ClaimedBatch {
  customers: CustomerEntries[];
  transaction: PoolClient;
  /** Runs once the batch's transaction has ended: `committed` false after a rollback. */
  onEnd(callback: (committed: boolean) => void): void;
}

export interface ClaimLimits {
  /** Customers per batch. */
  customers: number;
  /** Entries per batch, over all its customers. */
  entries: number;
}

// Advisory-lock namespace of the inbox's customer holds (the second key is the customer's hash).
const CUSTOMER_LOCKS = 1112294761;

/** The inbox: durable before acknowledged, unique on the Stripe event id. */
export class PostgresInbox {
  private readonly intake: InboxIntake;

  constructor(private readonly pool: Pool) {
    this.intake = new InboxIntake(pool);
  }

  /** Stores the delivery; returns false when the event id was already stored (a redelivery). */
  store(entry: IntakeEntry): Promise<boolean> {
    return this.intake.store(entry);
  }

  /**
   * Claims due entries of customers no other worker holds, runs `work` on them inside the
   * claiming transaction, records every settlement there and commits; a crash leaves them
   * pending. A customer is taken only when none of its pending entries is waiting for a retry,
   * so its entries are handled in order. Returns the settlements (empty when nothing was due).
   */
  async processBatch(
    limits: ClaimLimits,
    work: (batch: ClaimedBatch) => Promise<Settlement[]>,
  ): Promise<Settlement[]> {
    const client = await this.pool.connect();
    const callbacks: ((committed: boolean) => void)[] = [];
    const end = (committed: boolean): void => callbacks.forEach((callback) => callback(committed));
    let broken = false;
    try {
      await client.query('BEGIN');
      const customers = await this.claim(client, limits);
      if (customers.length === 0) {
        await client.query('COMMIT');
        return [];
      }
      const settlements = await work({
        customers,
        transaction: client,
        onEnd: (callback) => void callbacks.push(callback),
      });
      await record(client, settlements);
      await client.query('COMMIT');
      end(true);
      return settlements;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      end(false);
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Per-entry processing, kept for callers that handle one entry at a time: claims up to
   * `limit` entries, runs `work` on each in order and records its outcome.
   */
  async processDue(
    limit: number,
    work: (entry: InboxEntry) => Promise<InboxOutcome>,
    onError: (entry: InboxEntry, error: unknown) => void,
  ): Promise<number> {
    const settled = await this.processBatch({ customers: limit, entries: limit }, async ({ customers }) => {
      const settlements: Settlement[] = [];
      for (const { entries } of customers) settlements.push(...(await settleInOrder(entries, work, onError)));
      return settlements;
    });
    return settled.filter((s) => !('released' in s)).length;
  }

  private async claim(client: PoolClient, limits: ClaimLimits): Promise<CustomerEntries[]> {
    const { rows } = await client.query(
      `WITH candidates AS MATERIALIZED (
         SELECT customer_key, min(stripe_created) AS first
           FROM stripe_inbox
          WHERE status = 'pending'
          GROUP BY customer_key
         HAVING bool_and(next_attempt_at <= now())
          ORDER BY first
          LIMIT $1 * 4
       ), held AS MATERIALIZED (
         -- No ORDER BY here: the limit must stop the scan, so that only the customers taken get locked.
         SELECT customer_key FROM candidates
          WHERE pg_try_advisory_xact_lock($3, hashtext(customer_key))
          LIMIT $1
       )
       SELECT i.stripe_event_id, i.event_type, i.payload, i.stripe_created, i.attempts, i.customer_key
         FROM stripe_inbox i JOIN held h ON h.customer_key = i.customer_key
        WHERE i.status = 'pending'
        ORDER BY i.stripe_created, i.stripe_event_id
        LIMIT $2
          FOR UPDATE OF i SKIP LOCKED`,
      [limits.customers, limits.entries, CUSTOMER_LOCKS],
    );
    const byCustomer = new Map<string, InboxEntry[]>();
    for (const row of rows) {
      const entry: InboxEntry = {
        stripeEventId: row.stripe_event_id,
        eventType: row.event_type,
        payload: row.payload,
        stripeCreated: row.stripe_created,
        attempts: row.attempts,
        customerKey: row.customer_key,
      };
      const entries = byCustomer.get(row.customer_key) ?? [];
      entries.push(entry);
      byCustomer.set(row.customer_key, entries);
    }
    return [...byCustomer].map(([customerKey, entries]) => ({ customerKey, entries }));
  }

  async counts(): Promise<Record<string, number>> {
    const { rows } = await this.pool.query(
      `SELECT status, count(*)::int AS n FROM stripe_inbox GROUP BY status`,
    );
    return Object.fromEntries(rows.map((r) => [r.status as string, r.n as number]));
  }
}

/**
 * One customer's entries, one after another. After a failure the rest are released, not
 * handled, so they never overtake the entry that failed.
 */
export async function settleInOrder(
  entries: InboxEntry[],
  work: (entry: InboxEntry) => Promise<InboxOutcome>,
  onError: (entry: InboxEntry, error: unknown) => void,
): Promise<Settlement[]> {
  const settlements: Settlement[] = [];
  let failed = false;
  for (const entry of entries) {
    if (failed) {
      settlements.push({ entry, released: true });
      continue;
    }
    try {
      settlements.push({ entry, outcome: await work(entry) });
    } catch (error) {
      onError(entry, error);
      settlements.push({ entry, error });
      failed = true;
    }
  }
  return settlements;
}

/** Outcomes in one statement; failures each with their backoff (exponential, at most 5 min). */
async function record(client: PoolClient, settlements: Settlement[]): Promise<void> {
  const done = settlements.flatMap((s) => ('outcome' in s ? [s] : []));
  if (done.length > 0)
    await client.query(
      `UPDATE stripe_inbox i
          SET status = u.status, outcome = u.outcome, attempts = i.attempts + 1,
              processed_at = now(), last_error = NULL
         FROM unnest($1::text[], $2::text[], $3::jsonb[]) AS u(id, status, outcome)
        WHERE i.stripe_event_id = u.id`,
      [
        done.map((s) => s.entry.stripeEventId),
        done.map((s) => s.outcome.status),
        done.map((s) => JSON.stringify(s.outcome.detail ?? null)),
      ],
    );
  for (const s of settlements) {
    if (!('error' in s)) continue;
    const delaySeconds = Math.min(300, 2 ** Math.min(s.entry.attempts, 8));
    await client.query(
      `UPDATE stripe_inbox SET attempts = attempts + 1, last_error = $2,
              next_attempt_at = now() + make_interval(secs => $3)
        WHERE stripe_event_id = $1`,
      [s.entry.stripeEventId, String((s.error as Error)?.stack ?? s.error).slice(0, 4000), delaySeconds],
    );
  }
}
