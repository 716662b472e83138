import { randomUUID } from 'node:crypto';
import { PostgresEventStore } from '../../src/eventstore/postgres-event-store';
import type { EventData, EventStore } from '../../src/eventstore/port';
import { createTestDatabase } from '../../test/support/postgres';
import { perSecond, type BenchFigure, type BenchScenario } from '../run';

const SINGLE_APPENDS = 2000;
const CONCURRENT_WRITERS = 8;
const BATCHES = 200;
const BATCH_SIZE = 100;
const READ_BATCH = 1000;

function event(customer: number, n: number): EventData {
  return {
    id: randomUUID(),
    type: 'InvoicePaid',
    data: {
      customerId: `cus_${customer}`,
      subscriptionId: `sub_${customer}`,
      invoiceId: `in_${customer}_${n}`,
      amountPaid: 4900,
      currency: 'usd',
      lines: [{ price: 'price_premium_monthly', quantity: 1, amount: 4900 }],
    },
    metadata: {
      schemaVersion: 1,
      correlationId: randomUUID(),
      stripeEventId: `evt_${customer}_${n}`,
      source: 'stripe',
    },
  };
}

/** `count` appends of `size` events, spread over streams, each with its exact expected revision. */
async function appendMany(store: EventStore, prefix: string, count: number, size: number): Promise<void> {
  const revisions = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const stream = `${prefix}-${i % 100}`;
    const events = Array.from({ length: size }, (_, k) => event(i % 100, i * size + k));
    const result = await store.appendToStream(stream, events, revisions.get(stream) ?? 'no_stream');
    revisions.set(stream, result.nextExpectedRevision);
  }
}

const scenario: BenchScenario = {
  description: 'PostgreSQL event store (a throwaway database on DATABASE_URL): appends, read-all, catch-up',
  async run(log) {
    const db = await createTestDatabase({ prefix: 'bench_event_store' });
    const store = new PostgresEventStore(db.pool);
    try {
      log(`database ${new URL(db.url).pathname.slice(1)}`);
      const figures: BenchFigure[] = [];

      const single = await perSecond(SINGLE_APPENDS, () => appendMany(store, 'single', SINGLE_APPENDS, 1));
      figures.push({
        metric: 'append, 1 event, 1 writer',
        value: single,
        unit: 'appends/s',
        detail: `${SINGLE_APPENDS} appends, one after another`,
      });

      const perWriter = SINGLE_APPENDS / CONCURRENT_WRITERS;
      const concurrent = await perSecond(SINGLE_APPENDS, () =>
        Promise.all(
          Array.from({ length: CONCURRENT_WRITERS }, (_, w) => appendMany(store, `writer${w}`, perWriter, 1)),
        ),
      );
      figures.push({
        metric: `append, 1 event, ${CONCURRENT_WRITERS} writers`,
        value: concurrent,
        unit: 'appends/s',
        detail: `${SINGLE_APPENDS} appends, ${CONCURRENT_WRITERS} in parallel (serialised by the lock)`,
      });

      // What the ordering costs: the same rows through a plain bigserial insert, which gives no
      // order guarantee to a follower (test/contract/event-store.real.test.ts shows it skipping).
      await db.pool.query(
        'CREATE TABLE naive_log (position bigserial PRIMARY KEY, stream_name text, data jsonb, metadata jsonb)',
      );
      const naive = await perSecond(SINGLE_APPENDS, () =>
        Promise.all(
          Array.from({ length: CONCURRENT_WRITERS }, async (_, w) => {
            for (let i = 0; i < perWriter; i++) {
              const { data, metadata } = event(w, i);
              await db.pool.query('INSERT INTO naive_log (stream_name, data, metadata) VALUES ($1, $2, $3)', [
                `naive-${w}`,
                data,
                metadata,
              ]);
            }
          }),
        ),
      );
      figures.push({
        metric: `reference: bigserial insert, ${CONCURRENT_WRITERS} writers`,
        value: naive,
        unit: 'inserts/s',
        detail: 'no lock, no checks: followers can skip rows',
      });

      const batched = await perSecond(BATCHES * BATCH_SIZE, () =>
        appendMany(store, 'batched', BATCHES, BATCH_SIZE),
      );
      figures.push({
        metric: `append, ${BATCH_SIZE} events, 1 writer`,
        value: batched,
        unit: 'events/s',
        detail: `${BATCHES} appends`,
      });
      figures.push({
        metric: `append, ${BATCH_SIZE} events, 1 writer`,
        value: batched / BATCH_SIZE,
        unit: 'appends/s',
        detail: `${BATCHES} appends`,
      });

      const total = Number(await store.headPosition());
      const readAll = await perSecond(total, async () => {
        let after = 0n;
        for (;;) {
          const batch = await store.readAll({ after, maxCount: READ_BATCH });
          const last = batch[batch.length - 1];
          if (!last) return;
          after = last.position;
        }
      });
      figures.push({
        metric: 'read all',
        value: readAll,
        unit: 'events/s',
        detail: `${total} events, batches of ${READ_BATCH}`,
      });

      const catchUp = await perSecond(total, async () => {
        for await (const e of store.subscribeToAll({ batchSize: READ_BATCH }))
          if (e.position === BigInt(total)) break;
      });
      figures.push({
        metric: 'subscribe, catch-up',
        value: catchUp,
        unit: 'events/s',
        detail: `${total} events, batches of ${READ_BATCH}`,
      });
      return figures;
    } finally {
      await store.close();
      await db.drop();
    }
  },
};

export default scenario;
