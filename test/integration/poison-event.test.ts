/**
 * A bug in a read model's handler, met by the whole system: the entitlements handler throws
 * TypeError on one chosen event. That event goes to the dead-letter topic (and table) with its
 * reason, the events after it are applied, /ready and /metrics show it, and once the handler is
 * fixed `dead-letters replay` (the same code as the CLI verb) applies it.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { openReadModels } from '../../src/app/read-models';
import { replayDeadLetters } from '../../src/runtime/dead-letters';
import type { ReadModel } from '../../src/runtime/read-model';
import { eventually, startTestSystem, type TestSystem } from '../support/app';
import {
  customerCreatedEvent,
  subscriptionCreatedEvent,
  subscriptionUpdatedEvent,
  T0,
} from '../support/stripe-fixtures';

const BASIC = { id: 'price_basic_monthly', unitAmount: 999, product: 'prod_basic' };
const PREMIUM = { id: 'price_premium_monthly', unitAmount: 2999, product: 'prod_premium' };

describe('a poison event in the running system', () => {
  let system: TestSystem;
  let broken = true;
  const poisonType = 'SubscriptionItemsChanged';

  beforeAll(async () => {
    system = await startTestSystem(
      {},
      {
        decorateReadModel: (model: ReadModel): ReadModel =>
          model.name !== 'entitlements'
            ? model
            : {
                name: model.name,
                prepare: (signal) => model.prepare(signal),
                replay: (event) => model.replay(event),
                apply: async (batch) => {
                  const poison = batch.events.find(
                    (e) => e.customerId === 'cus_poison' && e.type === poisonType,
                  );
                  if (broken && poison)
                    throw new TypeError("Cannot read properties of undefined (reading 'tier')");
                  return model.apply(batch);
                },
              },
      },
    );
  });
  afterAll(() => system.stop());

  const entitlements = async (customer: string, query = '') =>
    (await (await system.get(`/v1/customers/${customer}/entitlements${query}`)).json()) as Record<
      string,
      unknown
    >;

  it('dead-letters it with its reason, applies what follows, reports it, and replays it once fixed', async () => {
    const sub = (status: 'active' | 'past_due', price: typeof BASIC) => ({
      id: 'sub_poison',
      customer: 'cus_poison',
      status,
      items: [{ id: 'si_poison', price }],
      created: T0,
    });
    const deliveries = [
      customerCreatedEvent({ id: 'cus_poison', email: 'p@example.com' }, { id: 'evt_p1', created: T0 }),
      customerCreatedEvent({ id: 'cus_bystander' }, { id: 'evt_p2', created: T0 }),
      subscriptionCreatedEvent(sub('active', BASIC), { id: 'evt_p3', created: T0 + 1 }),
      // The upgrade is the poison (SubscriptionItemsChanged); the past_due after it must still land.
      subscriptionUpdatedEvent(sub('active', PREMIUM), { id: 'evt_p4', created: T0 + 2 }),
      subscriptionUpdatedEvent(sub('past_due', PREMIUM), { id: 'evt_p5', created: T0 + 3 }),
      subscriptionCreatedEvent(
        { id: 'sub_bystander', customer: 'cus_bystander', items: [{ price: PREMIUM }], created: T0 },
        { id: 'evt_p6', created: T0 + 4 },
      ),
    ];
    for (const event of deliveries) expect((await system.postWebhook(event)).status).toBe(200);
    await system.settle();

    // Applied around it: the bystander, and the past_due that came after the poison.
    expect(await entitlements('cus_bystander')).toMatchObject({ tier: 'premium', status: 'active' });
    const meanwhile = await entitlements('cus_poison');
    expect(meanwhile).toMatchObject({ status: 'past_due' });

    // The dead-letter topic has it, with the reason in its headers.
    const letter = await readOneDlqMessage(system);
    const headers = Object.fromEntries(
      Object.entries(letter.headers ?? {}).map(([k, v]) => [k, v?.toString()]),
    );
    expect(headers.reason).toBe("TypeError: Cannot read properties of undefined (reading 'tier')");
    expect(JSON.parse(letter.value!.toString())).toMatchObject({
      type: poisonType,
      customerId: 'cus_poison',
    });

    // /ready (a component report) and /metrics say so.
    const ready = (await (await fetch(`${system.url}/ready`)).json()) as Record<string, unknown>;
    expect(JSON.stringify(ready)).toMatch(/"deadLetters":1/);
    const metrics = await (await fetch(`${system.url}/metrics`)).text();
    expect(metrics).toMatch(/billing_ledger_dead_letters_total\{consumer="entitlements"\} 1/);

    // Fixed: the replay (what `billing-ledger dead-letters replay` runs) applies it.
    broken = false;
    const opened = await openReadModels(system.config, system.namespace);
    try {
      const outcomes = await replayDeadLetters(opened.deadLetters, opened.models, {
        consumer: 'entitlements',
      });
      expect(outcomes.map((o) => o.outcome)).toEqual(['replayed']);
      expect(
        await replayDeadLetters(opened.deadLetters, opened.models, { consumer: 'entitlements' }),
      ).toEqual([]);
    } finally {
      await opened.close();
    }
    const after = await entitlements('cus_poison');
    expect(after).toMatchObject({ tier: 'premium', status: 'past_due' });
    // Equal to the answer folded from the whole log (point in time, now).
    const folded = await entitlements('cus_poison', `?at=${encodeURIComponent(new Date().toISOString())}`);
    const { position: _a, ...live } = after;
    const { position: _b, ...fromLog } = folded;
    expect(live).toEqual(fromLog);
  });
});

async function readOneDlqMessage(system: TestSystem): Promise<KafkaMessage> {
  const kafka = new Kafka({ brokers: system.config.KAFKA_BROKERS, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `dlq-reader-${randomUUID()}` });
  const seen: KafkaMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [`${system.config.KAFKA_TOPIC}.dlq`], fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
  try {
    await eventually(
      async () => seen.length,
      (n) => n >= 1,
      { timeoutMs: 30_000 },
    );
  } finally {
    await consumer.disconnect();
  }
  return seen[0]!;
}
