import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaBus } from '../../src/bus/kafka-bus';
import type { BusEvent } from '../../src/bus/port';
import { ConsumerRuntime } from '../../src/runtime/consumer-runtime';
import { DeadLetterStore } from '../../src/runtime/dead-letters';
import { silentLogger } from '../../src/shared/logger';
import { eventually } from '../support/eventually';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { tcpProxy } from '../support/tcp-proxy';
import { testBusEvent, TestReadModel } from '../support/test-read-model';

const brokers = (process.env.KAFKA_BROKERS as string).split(',');

const busEvent = testBusEvent;

describe('Kafka bus (real broker)', () => {
  const topic = `billing-ledger.test.bus.${randomUUID().slice(0, 8)}`;
  const bus = new KafkaBus({ brokers, topic, partitions: 3, logger: silentLogger });

  let db: TestDatabase;
  let deadLetters: DeadLetterStore;
  beforeAll(async () => {
    await bus.ensureTopics();
    db = await createTestDatabase({ prefix: 'bus' });
    deadLetters = new DeadLetterStore(db.pool);
  });
  afterAll(async () => {
    await db.drop();
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('delivers each customer’s events in order while partitions are consumed concurrently, and a restarted group with no model checkpoint resumes after its commit', async () => {
    const publisher = bus.publisher();
    const customers = ['cus_A', 'cus_B', 'cus_C', 'cus_D', 'cus_E', 'cus_F'];
    let position = 0;
    const first: BusEvent[] = [];
    for (let round = 0; round < 5; round++) for (const c of customers) first.push(busEvent(c, ++position));
    await publisher.publish(first);

    const namespace = `g${randomUUID().slice(0, 8)}`;
    const run = async (model: TestReadModel, until: readonly BusEvent[]) => {
      const runtime = new ConsumerRuntime({ bus, namespace, deadLetters, logger: silentLogger });
      runtime.start(model);
      try {
        await eventually(async () => model.has(until), Boolean, { timeoutMs: 30_000 });
      } finally {
        await runtime.stop();
      }
    };
    const model = new TestReadModel();
    await run(model, first);
    const seen = model.batches.flatMap((b) => b.events);
    for (const c of customers) {
      const positions = seen.filter((e) => e.customerId === c).map((e) => Number(e.position));
      expect(positions).toEqual([...positions].sort((x, y) => x - y));
      expect(positions).toHaveLength(5);
    }
    expect(new Set(model.batches.map((b) => b.partition)).size).toBeGreaterThan(1);

    const second = customers.map((c) => busEvent(c, ++position));
    await publisher.publish(second);
    await publisher.close();
    // A model that keeps no checkpoints of its own (prepare answers an empty map): Kafka's commit is the fallback.
    const resumed = new TestReadModel();
    await run(resumed, second);
    expect([...resumed.delivered.keys()].sort()).toEqual(second.map((e) => e.eventId).sort());
  });

  it('dead-letters a message that is not a bus event, with the reason, and keeps consuming', async () => {
    const raw = new Kafka({ brokers, logLevel: logLevel.NOTHING }).producer();
    await raw.connect();
    await raw.send({ topic, messages: [{ key: 'cus_X', value: '{"not":"an event"}' }] });
    await raw.disconnect();
    const good = busEvent('cus_X', 1000);
    const publisher = bus.publisher();
    await publisher.publish([good]);
    await publisher.close();

    const model = new TestReadModel('bus-test');
    const runtime = new ConsumerRuntime({
      bus,
      namespace: `g${randomUUID().slice(0, 8)}`,
      deadLetters,
      logger: silentLogger,
    });
    runtime.start(model);
    try {
      await eventually(async () => model.has([good]), Boolean, { timeoutMs: 30_000 });
    } finally {
      await runtime.stop();
    }
    const letters = await deadLetters.list({ consumer: 'bus-test' });
    expect(letters.map((l) => [l.raw, l.event])).toEqual([['{"not":"an event"}', undefined]]);
    expect(letters[0]?.reason).toMatch(/eventId/);
  });

  it('a publisher whose first connect failed connects again on the next publish, and the message arrives', async () => {
    const proxy = await tcpProxy(Number((brokers[0] as string).split(':')[1]));
    const flaky = new KafkaBus({
      brokers: [`127.0.0.1:${proxy.port}`],
      topic,
      partitions: 3,
      logger: silentLogger,
      retries: 1,
    });
    const publisher = flaky.publisher();
    const event = busEvent('cus_R', 2000);
    try {
      await expect(publisher.publish([event])).rejects.toThrow();
      await proxy.open();
      await publisher.publish([event]);
    } finally {
      await publisher.close();
      await proxy.close();
    }

    const seen: string[] = [];
    const consumer = new Kafka({ brokers, logLevel: logLevel.NOTHING }).consumer({
      groupId: `g-${randomUUID().slice(0, 8)}`,
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => void seen.push(message.value?.toString() ?? ''),
    });
    try {
      await eventually(async () => seen.includes(JSON.stringify(event)), Boolean);
    } finally {
      await consumer.disconnect();
    }
  });
});
