/**
 * How fast the inbox worker turns stored Stripe events into domain events, against PostgreSQL
 * (a throwaway database on DATABASE_URL): INBOX_DRAIN_ENTRIES (20,000) entries over
 * INBOX_DRAIN_CUSTOMERS (2,000) customers, each customer a subscription's life (created, then
 * updates and paid invoices), all stored before the clock starts.
 *
 * Three ways: "before" (one entry at a time, every command reading its whole stream: what the
 * worker did before the parallel inbox, on a tenth of the entries), per entry with customers in
 * parallel and cached state, and batched (each batch's events in one appendMany, committed with
 * the outcomes).
 */
import { performance } from 'node:perf_hooks';
import { CommandHandler, StreamStateCache } from '../../src/commands/handle-command';
import { processStripeEvent } from '../../src/commands/process-stripe-event';
import { appendManyWithin, PostgresEventStore } from '../../src/eventstore/postgres-event-store';
import { customerKeyOf } from '../../src/inbox/customer-key';
import { PostgresInbox, type InboxEntry, type InboxOutcome } from '../../src/inbox/inbox';
import { InboxWorker, type InboxWorkerOptions } from '../../src/inbox/inbox-worker';
import { inboxOutcomeOf, stripeBatchProcessor } from '../../src/inbox/stripe-batch-processor';
import { silentLogger } from '../../src/shared/logger';
import { createTestDatabase, type TestDatabase } from '../../test/support/postgres';
import {
  customerCreatedEvent,
  DAY,
  invoicePaidEvent,
  subscriptionCreatedEvent,
  subscriptionUpdatedEvent,
  T0,
  type StripeEvent,
} from '../../test/support/stripe-fixtures';
import type { BenchFigure, BenchScenario } from '../run';

const ENTRIES = Number(process.env.INBOX_DRAIN_ENTRIES ?? 20_000);
const CUSTOMERS = Number(process.env.INBOX_DRAIN_CUSTOMERS ?? 2_000);

/** `perCustomer` events of one customer: created, subscription, then updates and invoices. */
function customerHistory(c: number, perCustomer: number): StripeEvent[] {
  const customer = `cus_d${c}`;
  const subscription = `sub_d${c}`;
  const at = (k: number) => ({ id: `evt_d${c}_${String(k).padStart(4, '0')}`, created: T0 + k * DAY + c });
  const events: StripeEvent[] = [
    customerCreatedEvent({ id: customer, email: `c${c}@example.com` }, at(0)),
    subscriptionCreatedEvent({ id: subscription, customer }, at(1)),
  ];
  for (let k = 2; events.length < perCustomer; k++)
    events.push(
      k % 3 === 0
        ? invoicePaidEvent({ id: `in_d${c}_${k}`, customer, subscription }, at(k))
        : subscriptionUpdatedEvent({ id: subscription, customer, items: [{ quantity: 1 + (k % 5) }] }, at(k)),
    );
  return events;
}

async function fill(db: TestDatabase, entries: number, customers: number): Promise<number> {
  await db.pool.query('TRUNCATE events, stripe_inbox');
  const perCustomer = Math.max(2, Math.round(entries / customers));
  const events = Array.from({ length: customers }, (_, c) => customerHistory(c, perCustomer)).flat();
  for (let i = 0; i < events.length; i += 2000) {
    const chunk = events.slice(i, i + 2000);
    await db.pool.query(
      `INSERT INTO stripe_inbox (stripe_event_id, event_type, payload, stripe_created, customer_key)
       SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::timestamptz[], $5::text[])`,
      [
        chunk.map((e) => e.id),
        chunk.map((e) => e.type),
        chunk.map((e) => JSON.stringify(e)),
        chunk.map((e) => new Date(e.created * 1000)),
        chunk.map((e) => customerKeyOf(e.type, e as unknown as Record<string, unknown>)),
      ],
    );
  }
  return events.length;
}

async function drain(db: TestDatabase, worker: InboxWorker, loops: number): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while ((await worker.drainOnce()) > 0);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const { rows } = await db.pool.query(
    "SELECT count(*)::int AS n FROM stripe_inbox WHERE status = 'pending'",
  );
  if (rows[0].n !== 0) throw new Error(`${rows[0].n} entries still pending`);
  return seconds;
}

const scenario: BenchScenario = {
  description: `inbox drain rate: ${ENTRIES} stored Stripe events over ${CUSTOMERS} customers into the PostgreSQL event store`,
  async run(log) {
    const db = await createTestDatabase({ prefix: 'bench_inbox_drain' });
    const store = new PostgresEventStore(db.pool);
    const inbox = new PostgresInbox(db.pool);
    const figures: BenchFigure[] = [];
    const measure = async (
      metric: string,
      entries: number,
      customers: number,
      make: () => { process?: (entry: InboxEntry) => Promise<InboxOutcome>; options: InboxWorkerOptions },
    ) => {
      const stored = await fill(db, entries, customers);
      const { process, options } = make();
      const worker = new InboxWorker(inbox, process ?? (async () => fail()), silentLogger, options);
      const seconds = await drain(db, worker, options.loops ?? 1);
      const events = Number(await store.headPosition());
      log(`${metric}: ${stored} entries in ${seconds.toFixed(1)} s, ${events} domain events`);
      figures.push({
        metric,
        value: stored / seconds,
        unit: 'entries/s',
        detail: `${stored} entries, ${customers} customers, ${events} events`,
      });
    };
    try {
      log(`database ${new URL(db.url).pathname.slice(1)}`);
      await measure('before: one entry at a time, whole-stream reads', ENTRIES / 10, CUSTOMERS / 10, () => ({
        process: async (entry) =>
          inboxOutcomeOf(
            await processStripeEvent(store, entry.payload, {
              handler: new CommandHandler(store, new StreamStateCache(0)),
            }),
          ),
        options: { batchSize: 50, customersPerBatch: 50, concurrency: 1 },
      }));
      await measure('per entry, customers in parallel, cached state', ENTRIES, CUSTOMERS, () => {
        const handler = new CommandHandler(store);
        return {
          process: async (entry) =>
            inboxOutcomeOf(await processStripeEvent(store, entry.payload, { handler })),
          options: { batchSize: 1000, customersPerBatch: 200, concurrency: 16, loops: 2 },
        };
      });
      await measure('batched: one appendMany + outcomes per transaction', ENTRIES, CUSTOMERS, () => ({
        options: {
          processor: stripeBatchProcessor({
            handler: new CommandHandler(store),
            appendWithin: appendManyWithin,
            logger: silentLogger,
          }),
          batchSize: 1000,
          customersPerBatch: 200,
          loops: 2,
        },
      }));
      return figures;
    } finally {
      await store.close();
      await db.drop();
    }
  },
};

function fail(): never {
  throw new Error('not used');
}

export default scenario;
