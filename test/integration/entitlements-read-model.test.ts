import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import pino from 'pino';
import { KafkaBus } from '../../src/bus/kafka-bus';
import { toBusEvent, type BusEvent } from '../../src/bus/port';
import { loadCatalog } from '../../src/catalog/catalog';
import { processStripeEvent } from '../../src/commands/process-stripe-event';
import { PostgresEventStore } from '../../src/eventstore/postgres-event-store';
import { readLedgerIdentity } from '../../src/infra/postgres/ledger-identity';
import { entitlementsProjection } from '../../src/projections/entitlements/entitlements-projection';
import {
  entitlementsReadModel,
  type EntitlementsReadModelOptions,
} from '../../src/projections/entitlements/entitlements-read-model';
import { entitlementsQueries } from '../../src/projections/entitlements/queries';
import { ConsumerRuntime } from '../../src/runtime/consumer-runtime';
import { DeadLetterStore } from '../../src/runtime/dead-letters';
import { StoreLostError, type PartitionBatch } from '../../src/runtime/read-model';
import { silentLogger } from '../../src/shared/logger';
import { eventually } from '../support/eventually';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import {
  customerCreatedEvent,
  subscriptionCreatedEvent,
  subscriptionUpdatedEvent,
  type SubscriptionSpec,
} from '../support/stripe-fixtures';

/**
 * The feature-access ReadModel driven directly, as the consumer runtime drives it, against the
 * real Redis and PostgreSQL: partition batches and checkpoints, idempotent redelivery, a
 * concurrent writer caught by compare-and-set, and a store that is emptied, flushed or foreign
 * being refused and rebuilt from the log. Its own Redis database, because one test flushes it.
 */
const REDIS_DB = 13;
const PARTITIONS = 3;
const NOW = Math.floor(Date.now() / 1000);
const DAY = 86_400;
const TIERS = ['basic', 'premium', 'enterprise', 'unlimited'];
const catalog = loadCatalog();
const projection = entitlementsProjection(catalog, silentLogger);

describe('entitlements read model on Redis and PostgreSQL', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let redis: Redis;
  let prefix: string;
  let identity: string;
  /** Every event the models have been offered so far, with its partition and offset. */
  const topic: { partition: number; offset: number; event: BusEvent }[] = [];
  let logPosition = 0n;
  let n = 0;

  beforeAll(async () => {
    db = await createTestDatabase({ prefix: 'ent' });
    store = new PostgresEventStore(db.pool);
    redis = new Redis(process.env.REDIS_URL as string, { db: REDIS_DB });
    prefix = `t${randomUUID().slice(0, 8)}:ent:`;
    identity = await readLedgerIdentity(db.pool);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await db.drop();
  });

  function model(options: Partial<EntitlementsReadModelOptions> = {}) {
    return entitlementsReadModel({
      redis,
      store,
      logIdentity: () => readLedgerIdentity(db.pool),
      catalog,
      logger: silentLogger,
      prefix,
      ...options,
    });
  }
  const queries = () => entitlementsQueries({ redis, store, catalog, logger: silentLogger, prefix });

  const partitionOf = (customerId: string) =>
    [...customerId].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7) % PARTITIONS;

  /** Stripe events through the domain into the log; the new log events as Kafka would carry them. */
  async function record(...stripeEvents: object[]): Promise<BusEvent[]> {
    for (const event of stripeEvents) await processStripeEvent(store, event);
    const fresh = (await store.readAll({ after: logPosition, maxCount: 10_000 })).map(toBusEvent);
    logPosition = BigInt(fresh[fresh.length - 1]?.position ?? logPosition);
    for (const event of fresh) {
      const partition = partitionOf(event.customerId);
      topic.push({ partition, offset: topic.filter((m) => m.partition === partition).length, event });
    }
    return fresh;
  }

  /** The topic's messages (or some of them) as partition batches of at most `size`. */
  function batches(events: readonly BusEvent[], size = 5): PartitionBatch[] {
    const out: PartitionBatch[] = [];
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const messages = topic.filter((m) => m.partition === partition && events.includes(m.event));
      for (let i = 0; i < messages.length; i += size) {
        const chunk = messages.slice(i, i + size);
        out.push({
          partition,
          events: chunk.map((m) => m.event),
          nextOffset: String(chunk[chunk.length - 1]!.offset + 1),
        });
      }
    }
    return out;
  }

  /** What the model must answer: the customer's whole log folded by the same projection. */
  async function fromLog(customerId: string) {
    const events = (await store.readAll({ maxCount: 100_000 }))
      .filter((e) => e.data.customerId === customerId)
      .map(toBusEvent);
    const state = events.reduce((s, e) => projection.apply(s, e), projection.initial(customerId));
    return projection.render(state, BigInt(events[events.length - 1]!.position));
  }

  async function expectAllFromLog(customers: readonly string[]) {
    const q = queries();
    for (const customer of customers) expect(await q.getDocument(customer)).toEqual(await fromLog(customer));
  }

  /** Every key of the model but the checkpoints, dumped byte for byte. */
  async function snapshot(): Promise<Record<string, string>> {
    const keys = (await redis.keys(`${prefix}*`)).filter((k) => k !== `${prefix}ckpt`).sort();
    const out: Record<string, string> = {};
    for (const key of keys) out[key] = (await redis.dumpBuffer(key))?.toString('base64') ?? '';
    return out;
  }

  const sub = (customer: string, tier: string, extra: Partial<SubscriptionSpec> = {}): SubscriptionSpec => ({
    id: `sub_${customer.slice(4)}`,
    customer,
    created: NOW - 20 * DAY,
    currentPeriodStart: NOW - 20 * DAY,
    currentPeriodEnd: NOW + 10 * DAY,
    items: [{ id: `si_${customer.slice(4)}`, price: { id: `price_${tier}_monthly` } }],
    ...extra,
  });
  const at = (seconds: number) => ({ id: `evt_rm_${++n}`, created: seconds });

  const customers = Array.from({ length: 12 }, (_, i) => `cus_Rm${i}`);

  it('prepare on an empty store and an empty log: writes the marker, answers no checkpoints', async () => {
    expect(await model().prepare(new AbortController().signal)).toEqual(new Map());
    expect(await redis.get(`${prefix}meta`)).toBe(identity);
  });

  it('applies partition batches: answers equal the fold of the log, one checkpoint per partition', async () => {
    const events = await record(
      ...customers.flatMap((c, i) => [
        customerCreatedEvent({ id: c, metadata: { user_id: `u_rm_${i}` } }, at(NOW - 21 * DAY)),
        subscriptionCreatedEvent(sub(c, TIERS[i % 4]!), at(NOW - 20 * DAY)),
        ...(i % 3 === 0
          ? [subscriptionUpdatedEvent(sub(c, 'unlimited'), at(NOW - 19 * DAY))]
          : i % 3 === 1
            ? [
                subscriptionUpdatedEvent(
                  sub(c, TIERS[i % 4]!, { cancelAtPeriodEnd: true }),
                  at(NOW - 18 * DAY),
                ),
              ]
            : []),
      ]),
    );
    const m = model();
    for (const batch of batches(events)) await m.apply(batch);

    await expectAllFromLog(customers);
    expect(await queries().getDocument('cus_Rm0')).toMatchObject({ tier: 'unlimited', userId: 'u_rm_0' });
    expect(await queries().getDocument('cus_Rm1')).toMatchObject({ reason: 'cancellation_scheduled_grace' });
    expect(await queries().customerIdForUser('u_rm_5')).toBe('cus_Rm5');
    // Point in time folds the log: before the upgrade, cus_Rm0 had its first tier.
    expect(await queries().pointInTime('cus_Rm0', new Date((NOW - 19.5 * DAY) * 1000))).toMatchObject({
      tier: 'basic',
    });

    const expected = new Map<number, string>();
    for (const m of topic) expected.set(m.partition, String(m.offset + 1));
    expect(await model().prepare(new AbortController().signal)).toEqual(expected);
    expect(expected.size).toBe(PARTITIONS);
  });

  it('redelivered batches and old events change nothing, byte for byte', async () => {
    const before = await snapshot();
    const all = topic.map((m) => m.event);
    const m = model();
    for (const batch of [...batches(all, 7), ...batches(all.slice(0, 10), 2)]) await m.apply(batch);
    expect(await snapshot()).toEqual(before);
  });

  it('a concurrent writer is caught by compare-and-set: the batch is read and folded again', async () => {
    const c = 'cus_Rm2';
    const [first, second] = await record(
      subscriptionUpdatedEvent(sub(c, 'premium'), at(NOW - 10 * DAY)),
      subscriptionUpdatedEvent(sub(c, 'premium', { cancelAtPeriodEnd: true }), at(NOW - 9 * DAY)),
    );
    let reads = 0;
    const other = model();
    const racing = model({
      afterRead: async () => {
        // Between this writer's read and its write, another writer (a rebalanced partition's
        // previous owner, say) applies the first event.
        if (++reads === 1)
          await other.apply({ partition: partitionOf(c), events: [first!], nextOffset: '0' });
      },
    });
    await racing.apply({ partition: partitionOf(c), events: [first!, second!], nextOffset: '0' });
    expect(reads).toBe(2);
    expect(await queries().getDocument(c)).toEqual(await fromLog(c));
    expect(await queries().getDocument(c)).toMatchObject({
      tier: 'premium',
      reason: 'cancellation_scheduled_grace',
      position: second!.position,
    });
  });

  it('without its marker the store refuses every write (StoreLostError); prepare rebuilds it from the log', async () => {
    const c = 'cus_Rm4';
    const before = await queries().getDocument(c);
    const checkpoints = await redis.hgetall(`${prefix}ckpt`);
    await redis.del(`${prefix}meta`);

    const events = await record(subscriptionUpdatedEvent(sub(c, 'unlimited'), at(NOW - 5 * DAY)));
    const m = model();
    const [batch] = batches(events);
    await expect(m.apply(batch!)).rejects.toBeInstanceOf(StoreLostError);
    expect(await queries().getDocument(c)).toEqual(before);
    expect(await redis.hgetall(`${prefix}ckpt`)).toEqual(checkpoints);

    expect(await m.prepare(new AbortController().signal)).toEqual(new Map());
    expect(await redis.get(`${prefix}meta`)).toBe(identity);
    await expectAllFromLog(customers);
    expect(await queries().getDocument(c)).toMatchObject({ tier: 'unlimited' });
    // The runtime resumes from the group's offsets: the batch comes again and changes nothing.
    const rebuilt = await snapshot();
    await m.apply(batch!);
    expect(await snapshot()).toEqual(rebuilt);
  });

  it('FLUSHDB mid-way: the next batch is refused, prepare rebuilds, the rest applies, every answer is right', async () => {
    const events = await record(
      ...customers
        .slice(6)
        .map((c, i) => subscriptionUpdatedEvent(sub(c, TIERS[(i + 1) % 4]!), at(NOW - 4 * DAY + i))),
      ...customers
        .slice(6)
        .map((c, i) =>
          subscriptionUpdatedEvent(
            sub(c, TIERS[(i + 2) % 4]!, { cancelAtPeriodEnd: i % 2 === 0 }),
            at(NOW - 3 * DAY + i),
          ),
        ),
    );
    const all = batches(events, 1);
    const m = model();
    const half = Math.floor(all.length / 2);
    for (const batch of all.slice(0, half)) await m.apply(batch);
    await redis.flushdb();
    await expect(m.apply(all[half]!)).rejects.toBeInstanceOf(StoreLostError);
    expect(await redis.dbsize()).toBe(0);

    expect(await m.prepare(new AbortController().signal)).toEqual(new Map());
    for (const batch of all.slice(half)) await m.apply(batch);
    await expectAllFromLog(customers);
    expect(await queries().customerIdForUser('u_rm_7')).toBe('cus_Rm7');
  });

  it('a foreign marker (another log built this Redis): its data is removed and ours rebuilt', async () => {
    await redis.set(`${prefix}meta`, randomUUID());
    await redis.hset(`${prefix}cust:cus_Foreign`, { p: '99999', s: '{}', d: '{"tier":"unlimited"}' });
    await redis.set(`${prefix}user:u_foreign`, 'cus_Foreign');
    await redis.hset(`${prefix}ckpt`, '0', '123456');

    const m = model();
    await expect(
      m.apply({ partition: 0, events: [topic[0]!.event], nextOffset: '1' }),
    ).rejects.toBeInstanceOf(StoreLostError);
    expect(await m.prepare(new AbortController().signal)).toEqual(new Map());
    expect(await queries().getDocument('cus_Foreign')).toBeNull();
    expect(await queries().customerIdForUser('u_foreign')).toBeNull();
    expect(await redis.hgetall(`${prefix}ckpt`)).toEqual({});
    await expectAllFromLog(customers);
  });

  it('several processes finding the store lost: one rebuilds, the others wait for its marker', async () => {
    await redis.del(`${prefix}meta`);
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const results = await Promise.all(
      [1, 2, 3].map(() => model({ logger }).prepare(new AbortController().signal)),
    );
    expect(results.filter((r) => r.size === 0)).toHaveLength(3);
    expect(lines.filter((l) => l.includes('rebuilding from the event log'))).toHaveLength(1);
    expect(lines.some((l) => l.includes('rebuilt from the event log'))).toBe(true);
    await expectAllFromLog(customers);
  });

  it('replay(event) of a dead letter refolds the customer from the log (the guard would skip it)', async () => {
    const c = 'cus_Rm9';
    const [event] = await record(subscriptionUpdatedEvent(sub(c, 'unlimited'), at(NOW - DAY)));
    // The event as a buggy handler saw it: skipped as malformed, yet the position moved past it.
    const garbled = { ...event!, data: { ...event!.data, subscriptionId: 42 } };
    const m = model();
    await m.apply({ partition: partitionOf(c), events: [garbled], nextOffset: '0' });
    expect(await queries().getDocument(c)).toMatchObject({ position: event!.position });
    expect(await queries().getDocument(c)).not.toEqual(await fromLog(c));

    await m.apply({ partition: partitionOf(c), events: [event!], nextOffset: '0' });
    expect(await queries().getDocument(c)).not.toEqual(await fromLog(c));

    await m.replay(event!);
    expect(await queries().getDocument(c)).toEqual(await fromLog(c));
    expect(await queries().getDocument(c)).toMatchObject({ tier: 'unlimited' });
  });

  it('driven by the consumer runtime on real Kafka: applies, checkpoints in Redis, heals a flushed Redis by itself', async () => {
    const id = randomUUID().replace(/-/g, '').slice(0, 10);
    const brokers = (process.env.KAFKA_BROKERS as string).split(',');
    const bus = new KafkaBus({
      brokers,
      topic: `billing-ledger.test.ent.${id}`,
      partitions: 3,
      logger: silentLogger,
    });
    await bus.ensureTopics();
    const publisher = bus.publisher();
    const runtime = new ConsumerRuntime({
      bus,
      namespace: `ent${id}`,
      deadLetters: new DeadLetterStore(db.pool),
      logger: silentLogger,
      backoff: { initialMs: 50, maxMs: 500 },
    });
    const allRight = async () => {
      const q = queries();
      for (const customer of customers)
        if (JSON.stringify(await q.getDocument(customer)) !== JSON.stringify(await fromLog(customer)))
          return false;
      return true;
    };
    try {
      // The whole log so far (already reflected: skipped by the guard), then new events.
      await publisher.publish(topic.map((m) => m.event));
      runtime.start(model());
      await publisher.publish(
        await record(
          ...customers
            .slice(0, 6)
            .map((c, i) => subscriptionUpdatedEvent(sub(c, TIERS[i % 4]!), at(NOW - DAY / 2 + i))),
        ),
      );
      await eventually(allRight, Boolean, { timeoutMs: 40_000 });
      await eventually(
        async () => Object.keys(await redis.hgetall(`${prefix}ckpt`)).length,
        (k) => k === 3,
        {
          timeoutMs: 10_000,
        },
      );

      await redis.flushdb();
      await publisher.publish(
        await record(subscriptionUpdatedEvent(sub('cus_Rm3', 'enterprise'), at(NOW - DAY / 4))),
      );
      await eventually(allRight, Boolean, { timeoutMs: 40_000 });
      expect(await queries().getDocument('cus_Rm3')).toMatchObject({ tier: 'enterprise' });
      expect(await redis.get(`${prefix}meta`)).toBe(identity);
      expect(runtime.status().entitlements?.deadLetters).toBe(0);
    } finally {
      await publisher.close();
      await runtime.stop();
      const { Kafka, logLevel } = await import('kafkajs');
      const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [`billing-ledger.test.ent.${id}`] }).catch(() => undefined);
      await admin.disconnect();
    }
  }, 120_000);
});
