import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaBus } from '../../src/bus/kafka-bus';
import type { BusEvent } from '../../src/bus/port';
import { silentLogger } from '../../src/shared/logger';
import { eventually } from '../support/eventually';
import { tcpProxy } from '../support/tcp-proxy';

const brokers = (process.env.KAFKA_BROKERS as string).split(',');

function busEvent(customerId: string, position: number): BusEvent {
  return {
    eventId: randomUUID(),
    type: 'Tested',
    streamName: `customer-${customerId}`,
    revision: position,
    position: String(position),
    customerId,
    data: { customerId, position },
    metadata: { schemaVersion: 1 },
    recordedAt: new Date().toISOString(),
  };
}

describe('Kafka bus (real broker)', () => {
  const topic = `billing-ledger.test.bus.${randomUUID().slice(0, 8)}`;
  const bus = new KafkaBus({ brokers, topic, partitions: 3, logger: silentLogger });

  beforeAll(() => bus.ensureTopics());
  afterAll(async () => {
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('delivers each customer’s events in order to a consumer group, and a restarted group resumes after its commit', async () => {
    const publisher = bus.publisher();
    const customers = ['cus_A', 'cus_B', 'cus_C', 'cus_D'];
    let position = 0;
    const first: BusEvent[] = [];
    for (let round = 0; round < 5; round++) for (const c of customers) first.push(busEvent(c, ++position));
    await publisher.publish(first);

    const seen: BusEvent[] = [];
    const group = `g-${randomUUID().slice(0, 8)}`;
    const consumer = bus.consumer(group);
    await consumer.start({
      handle: async (events) => void seen.push(...events),
      deadLetter: async () => undefined,
    });
    await eventually(
      async () => seen.length,
      (n) => n >= first.length,
    );
    await consumer.stop();

    for (const c of customers) {
      const positions = seen.filter((e) => e.customerId === c).map((e) => Number(e.position));
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      expect(positions).toHaveLength(5);
    }

    const second = customers.map((c) => busEvent(c, ++position));
    await publisher.publish(second);
    const resumed: BusEvent[] = [];
    const again = bus.consumer(group);
    await again.start({
      handle: async (events) => void resumed.push(...events),
      deadLetter: async () => undefined,
    });
    await eventually(
      async () => resumed.length,
      (n) => n >= second.length,
    );
    await again.stop();
    await publisher.close();
    expect(resumed.map((e) => e.eventId).sort()).toEqual(second.map((e) => e.eventId).sort());
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

    const letters: string[] = [];
    const handled: string[] = [];
    const consumer = bus.consumer(`g-${randomUUID().slice(0, 8)}`);
    await consumer.start({
      handle: async (events) => void handled.push(...events.map((e) => e.eventId)),
      deadLetter: async (letter) => void letters.push(letter.reason),
    });
    await eventually(async () => handled.includes(good.eventId), Boolean);
    await consumer.stop();
    expect(letters.some((reason) => /eventId/.test(reason))).toBe(true);
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
