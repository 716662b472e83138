import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CommandHandler } from '../../src/commands/handle-command';
import { processStripeEvent } from '../../src/commands/process-stripe-event';
import { MemoryEventStore } from '../../src/eventstore/memory-event-store';
import { appendManyWithin, PostgresEventStore } from '../../src/eventstore/postgres-event-store';
import type { EventStore } from '../../src/eventstore/port';
import { PostgresInbox, type Settlement } from '../../src/inbox/inbox';
import { InboxWorker, type BatchProcessor } from '../../src/inbox/inbox-worker';
import { inboxOutcomeOf, stripeBatchProcessor } from '../../src/inbox/stripe-batch-processor';
import { migratePostgres } from '../../src/infra/postgres/migrate';
import { silentLogger } from '../../src/shared/logger';
import { simulate, type LifecycleSpec } from '../property/lifecycle-simulator';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import type { StripeEvent } from '../support/stripe-fixtures';

const lifecycle: LifecycleSpec = {
  apiShape: 'legacy',
  subscriptions: [
    { start: 'trialing', price: 0, quantity: 1 },
    { start: 'active', price: 1, quantity: 2 },
  ],
  steps: (
    [
      'convert',
      'upgrade',
      'add_percent_discount',
      'payment_failed',
      'recover',
      'renew',
      'quantity_up',
      'remove_discount',
      'schedule_cancel',
      'withdraw_cancel',
    ] as const
  ).map((action, i) => ({ subscription: (i % 2) as 0 | 1, action, dt: i % 3 === 0 ? 0 : 3600 })),
};

/** `customers` customers' histories, interleaved the way Stripe would send them. */
function histories(customers: number, prefix: string): StripeEvent[] {
  return Array.from({ length: customers }, (_, c) => simulate(lifecycle, 1_767_225_600 + c, `${prefix}${c}`))
    .flat()
    .sort((a, b) => a.created - b.created || a.id.localeCompare(b.id));
}

/** Every stream's (event id, type) list: equal logs whatever the adapter. */
async function streams(store: EventStore): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (let after = 0n; ;) {
    const batch = await store.readAll({ after, maxCount: 1000 });
    if (batch.length === 0) return out;
    for (const e of batch) (out[e.streamName] ??= []).push(`${e.revision}:${e.id}:${e.type}`);
    after = batch[batch.length - 1]!.position;
  }
}

/** What one process handling the events one at a time, in Stripe order, writes. */
async function reference(events: StripeEvent[]): Promise<Record<string, string[]>> {
  const memory = new MemoryEventStore();
  for (const event of events) await processStripeEvent(memory, event);
  return streams(memory);
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ prefix: 'inbox_parallel' });
});
afterAll(async () => {
  await db?.drop();
});

async function fresh(): Promise<{ inbox: PostgresInbox; store: PostgresEventStore }> {
  await db.pool.query('TRUNCATE events, stripe_inbox');
  return { inbox: new PostgresInbox(db.pool), store: new PostgresEventStore(db.pool) };
}

async function storeAll(inbox: PostgresInbox, events: StripeEvent[]): Promise<void> {
  for (const e of events)
    await inbox.store({
      stripeEventId: e.id,
      eventType: e.type,
      payload: e as unknown as Record<string, unknown>,
      stripeCreated: new Date(e.created * 1000),
    });
}

const batchProcessor = (store: PostgresEventStore, handler = new CommandHandler(store)): BatchProcessor =>
  stripeBatchProcessor({ handler, appendWithin: appendManyWithin, logger: silentLogger });

async function drain(worker: InboxWorker): Promise<void> {
  while ((await worker.drainOnce()) > 0);
}

async function pending(): Promise<number> {
  const { rows } = await db.pool.query(
    "SELECT count(*)::int AS n FROM stripe_inbox WHERE status = 'pending'",
  );
  return rows[0].n as number;
}

describe('inbox: parallel across customers, in order per customer', () => {
  it('stores each entry with its customer key', async () => {
    const { inbox } = await fresh();
    const events = histories(2, 'K');
    await storeAll(inbox, events);
    const { rows } = await db.pool.query<{ event_type: string; customer_key: string }>(
      'SELECT DISTINCT event_type, customer_key FROM stripe_inbox ORDER BY 2, 1',
    );
    expect(new Set(rows.map((r) => r.customer_key))).toEqual(new Set(['cus_K01', 'cus_K11']));
    expect(rows.map((r) => r.event_type)).toEqual(
      expect.arrayContaining(['customer.created', 'customer.subscription.created', 'invoice.payment_failed']),
    );
  });

  it('batched (appends and outcomes in one transaction): the log equals one process handling the events one at a time', async () => {
    const { inbox, store } = await fresh();
    const events = histories(40, 'B');
    await storeAll(inbox, events);
    const worker = new InboxWorker(inbox, async () => fail('per-entry path not used'), silentLogger, {
      processor: batchProcessor(store),
      batchSize: 97,
      customersPerBatch: 7,
    });
    await drain(worker);
    expect(await pending()).toBe(0);
    expect(await streams(store)).toEqual(await reference(events));
  });

  it('two workers draining at once never hold the same customer, and end on the same log', async () => {
    const { inbox, store } = await fresh();
    const events = histories(30, 'W');
    await storeAll(inbox, events);
    const held = new Set<string>();
    let overlaps = 0;
    const watching =
      (processor: BatchProcessor): BatchProcessor =>
      async (batch) => {
        const keys = batch.customers.map((c) => c.customerKey);
        for (const key of keys) if (held.has(key)) overlaps++;
        keys.forEach((key) => held.add(key));
        batch.onEnd(() => keys.forEach((key) => held.delete(key)));
        await new Promise((resolve) => setTimeout(resolve, 20));
        return processor(batch);
      };
    const handler = new CommandHandler(store);
    const workers = [1, 2].map(
      () =>
        new InboxWorker(inbox, async () => fail('unused'), silentLogger, {
          processor: watching(batchProcessor(store, handler)),
          batchSize: 25,
          customersPerBatch: 5,
        }),
    );
    const claimed = await Promise.all(workers.map(async (w) => ((await w.drainOnce()) > 0 ? 1 : 0)));
    expect(claimed).toEqual([1, 1]);
    await Promise.all(workers.map(drain));
    expect(overlaps).toBe(0);
    expect(await pending()).toBe(0);
    expect(await streams(store)).toEqual(await reference(events));
  });

  it('a crash after the appends, before the outcomes commit, leaves neither (one transaction); the retry stores each event once', async () => {
    const { inbox, store } = await fresh();
    const events = histories(10, 'C');
    await storeAll(inbox, events);
    const handler = new CommandHandler(store);
    const real = batchProcessor(store, handler);
    const crashing = new InboxWorker(inbox, async () => fail('unused'), silentLogger, {
      processor: async (batch) => {
        await real(batch);
        throw new Error('process died before the inbox outcomes were recorded');
      },
    });
    await expect(crashing.drainOnce()).rejects.toThrow('process died');
    expect(await store.headPosition()).toBe(0n);
    expect(await pending()).toBe(events.length);
    // Restarted: a new handler, nothing cached.
    await drain(
      new InboxWorker(inbox, async () => fail('unused'), silentLogger, { processor: batchProcessor(store) }),
    );
    expect(await streams(store)).toEqual(await reference(events));
  });

  it('one entry at a time (appends commit on their own): a crash between the append and the outcome, then a retry with a cold cache, stores nothing twice', async () => {
    const { inbox, store } = await fresh();
    const events = histories(6, 'E');
    await storeAll(inbox, events);
    let processed = 0;
    const handler = new CommandHandler(store);
    const crashing = new InboxWorker(
      inbox,
      async (entry) => {
        const outcome = inboxOutcomeOf(await processStripeEvent(store, entry.payload, { handler }));
        if (++processed === 25) throw new Error('process died after the append');
        return outcome;
      },
      silentLogger,
    );
    await expect(
      (async () => {
        for (;;) if ((await crashing.drainOnce()) === 0) break;
      })(),
    ).resolves.toBeUndefined();
    // The entry whose outcome was lost is pending again (retry after its backoff): make it due.
    await db.pool.query("UPDATE stripe_inbox SET next_attempt_at = now() WHERE status = 'pending'");
    expect(await pending()).toBeGreaterThan(0);
    const restarted = new InboxWorker(
      inbox,
      async (entry) =>
        inboxOutcomeOf(
          await processStripeEvent(store, entry.payload, { handler: new CommandHandler(store) }),
        ),
      silentLogger,
    );
    await drain(restarted);
    expect(await pending()).toBe(0);
    expect(await streams(store)).toEqual(await reference(events));
  });

  it("a stale cache (another process appended to a stream) fails only that customer's group; it is released and handled next time", async () => {
    const { inbox, store } = await fresh();
    const events = histories(4, 'S');
    const cut = Math.floor(events.length / 2);
    const handler = new CommandHandler(store);
    const worker = new InboxWorker(inbox, async () => fail('unused'), silentLogger, {
      processor: batchProcessor(store, handler),
    });
    await storeAll(inbox, events.slice(0, cut));
    await drain(worker);
    // Another instance handles one of the later events itself, behind this handler's cache.
    const [outOfBand] = events.slice(cut).filter((e) => e.type.startsWith('customer.subscription.'));
    await processStripeEvent(store, outOfBand!, { handler: new CommandHandler(store) });
    await storeAll(inbox, events.slice(cut));
    const first = await worker.drainOnce();
    await drain(worker);
    expect(first).toBeLessThan(events.length - cut); // the conflicted customer was released
    expect(await pending()).toBe(0);
    const order = [...events.slice(0, cut), outOfBand!, ...events.slice(cut).filter((e) => e !== outOfBand)];
    expect(await streams(store)).toEqual(await reference(order));
  });

  it('entries whose events a worker appended before dying without recording them are handled once', async () => {
    const { inbox, store } = await fresh();
    const events = histories(5, 'L');
    await storeAll(inbox, events);
    for (const e of events.slice(0, 20))
      await processStripeEvent(store, e, { handler: new CommandHandler(store) });
    await drain(
      new InboxWorker(inbox, async () => fail('unused'), silentLogger, { processor: batchProcessor(store) }),
    );
    expect(await pending()).toBe(0);
    expect(await streams(store)).toEqual(await reference(events));
  });

  it('a customer with an entry waiting for its retry is not taken, so its later entries do not overtake it', async () => {
    const { inbox } = await fresh();
    const events = histories(2, 'O');
    await storeAll(inbox, events);
    const first = events.find((e) => e.data.object && (e.data.object as { id?: string }).id === 'cus_O01');
    await db.pool.query(
      "UPDATE stripe_inbox SET next_attempt_at = now() + interval '1 hour' WHERE stripe_event_id = $1",
      [first!.id],
    );
    const seen: Settlement[] = [];
    await inbox.processBatch({ customers: 10, entries: 1000 }, async ({ customers }) => {
      const settled = customers.flatMap(({ entries }) =>
        entries.map((entry): Settlement => ({ entry, released: true })),
      );
      seen.push(...settled);
      return settled;
    });
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen.map((s) => s.entry.customerKey))).toEqual(new Set(['cus_O11']));
  });
});

describe('migration 0005', () => {
  it('fills the customer key of entries stored before it', async () => {
    const target = await createTestDatabase({ prefix: 'inbox_backfill', migrate: false });
    const dir = await mkdtemp(path.join(tmpdir(), 'migrations-'));
    const source = path.join(__dirname, '..', '..', 'src', 'infra', 'postgres', 'migrations');
    try {
      for (const name of ['0001_event_store.sql', '0002_stripe_inbox.sql'])
        await cp(path.join(source, name), path.join(dir, name));
      await migratePostgres(target.pool, { dir });
      const rows: [string, string, unknown][] = [
        ['evt_1', 'customer.updated', { object: { id: 'cus_A', object: 'customer' } }],
        ['evt_2', 'customer.subscription.updated', { object: { id: 'sub_1', customer: 'cus_B' } }],
        ['evt_3', 'invoice.paid', { object: { id: 'in_1', customer: { id: 'cus_C' } } }],
        [
          'evt_4',
          'payment_method.detached',
          { object: { id: 'pm_1', customer: null }, previous_attributes: { customer: 'cus_D' } },
        ],
        ['evt_5', 'charge.dispute.created', { object: { id: 'dp_1' } }],
      ];
      for (const [id, type, data] of rows)
        await target.pool.query(
          'INSERT INTO stripe_inbox (stripe_event_id, event_type, payload, stripe_created) VALUES ($1, $2, $3, now())',
          [id, type, JSON.stringify({ id, type, data })],
        );
      await cp(
        path.join(source, '0005_parallel_inbox_and_batched_appends.sql'),
        path.join(dir, '0005_parallel_inbox_and_batched_appends.sql'),
      );
      await migratePostgres(target.pool, { dir });
      const { rows: keys } = await target.pool.query(
        'SELECT stripe_event_id, customer_key FROM stripe_inbox ORDER BY 1',
      );
      expect(keys.map((r) => r.customer_key)).toEqual(['cus_A', 'cus_B', 'cus_C', 'cus_D', '(none)']);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await target.drop();
    }
  });
});
