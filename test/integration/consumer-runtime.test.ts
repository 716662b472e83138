import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type KafkaMessage } from 'kafkajs';
import { KafkaBus } from '../../src/bus/kafka-bus';
import type { BusEvent } from '../../src/bus/port';
import { Metrics } from '../../src/infra/metrics/metrics';
import { ConsumerRuntime } from '../../src/runtime/consumer-runtime';
import { DeadLetterStore, replayDeadLetters, type DeadLetter } from '../../src/runtime/dead-letters';
import { StoreLostError } from '../../src/runtime/read-model';
import { silentLogger } from '../../src/shared/logger';
import { eventually } from '../support/eventually';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { tcpProxy } from '../support/tcp-proxy';
import { testBusEvent, TestReadModel } from '../support/test-read-model';

const brokers = (process.env.KAFKA_BROKERS as string).split(',');
const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });

const busEvent = testBusEvent;

describe('consumer runtime (real Kafka and PostgreSQL)', () => {
  let db: TestDatabase;
  let admin: Admin;
  let topic: string;
  let namespace: string;
  let bus: KafkaBus;
  let letters: DeadLetterStore;
  let metrics: Metrics;
  let runtime: ConsumerRuntime;
  const producer = kafka.producer();

  beforeAll(async () => {
    db = await createTestDatabase({ prefix: 'runtime' });
    admin = kafka.admin();
    await admin.connect();
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
    await admin.disconnect();
    await db.drop();
  });

  beforeEach(async () => {
    const id = randomUUID().replace(/-/g, '').slice(0, 10);
    topic = `billing-ledger.test.runtime.${id}`;
    namespace = `rt${id}`;
    bus = new KafkaBus({ brokers, topic, partitions: 3, logger: silentLogger });
    await bus.ensureTopics();
    letters = new DeadLetterStore(db.pool);
    metrics = new Metrics();
    runtime = new ConsumerRuntime({
      bus,
      namespace,
      deadLetters: letters,
      logger: silentLogger,
      metrics,
      backoff: { initialMs: 50, maxMs: 500 },
    });
  });
  afterEach(async () => {
    await runtime.stop(10_000);
    await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
  });

  /** Publishes each event to the chosen partition, in order. */
  const publish = async (partition: number, events: BusEvent[]): Promise<void> => {
    await producer.send({
      topic,
      acks: -1,
      messages: events.map((e) => ({ partition, key: e.customerId, value: JSON.stringify(e) })),
    });
  };

  const readDlq = async (count: number): Promise<KafkaMessage[]> => {
    const consumer = kafka.consumer({ groupId: `dlq-reader-${randomUUID()}` });
    const seen: KafkaMessage[] = [];
    await consumer.connect();
    await consumer.subscribe({ topics: [`${topic}.dlq`], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
    try {
      await eventually(
        async () => seen.length,
        (n) => n >= count,
      );
    } finally {
      await consumer.disconnect();
    }
    return seen;
  };

  it('dead-letters the event a model throws TypeError on (DLQ topic and table, with the reason), applies the later ones of the same partition, shows it in status, and a fixed model replays it once', async () => {
    const model = new TestReadModel();
    const before = [1, 2].map((n) => busEvent('cus_A', n));
    const poison = busEvent('cus_A', 3);
    const after = [4, 5, 6].map((n) => busEvent('cus_A', n));
    const elsewhere = [7, 8].map((n) => busEvent('cus_B', n));
    let broken = true;
    model.fault = (batch) => {
      if (broken && batch.events.some((e) => e.eventId === poison.eventId))
        throw new TypeError("Cannot read properties of undefined (reading 'tier')");
    };
    await publish(0, [...before, poison, ...after]);
    await publish(1, elsewhere);

    runtime.start(model);
    await eventually(
      async () => model.has([...before, ...after, ...elsewhere]) && model.checkpoints.get(0) === '6',
      Boolean,
      { timeoutMs: 30_000 },
    );

    expect(model.delivered.has(poison.eventId)).toBe(false);
    const reason = "TypeError: Cannot read properties of undefined (reading 'tier')";
    const stored = await letters.list({ consumer: 'test-model' });
    expect(stored).toEqual([
      expect.objectContaining<Partial<DeadLetter>>({
        consumer: 'test-model',
        group: `${namespace}.test-model`,
        topic,
        partition: 0,
        offset: '2',
        reason,
        event: poison,
      }),
    ]);
    const [dlq] = await readDlq(1);
    expect(dlq?.value?.toString()).toBe(JSON.stringify(poison));
    expect(
      Object.fromEntries(Object.entries(dlq?.headers ?? {}).map(([k, v]) => [k, v?.toString()])),
    ).toEqual({
      group: `${namespace}.test-model`,
      reason,
      partition: '0',
      offset: '2',
      'event-id': poison.eventId,
    });
    const status = runtime.status()['test-model'];
    expect(status).toMatchObject({
      state: 'running',
      deadLetters: 1,
      lastDeadLetter: { reason, partition: 0, offset: '2', eventId: poison.eventId },
    });
    expect(runtime.healthy()).toBe(true);
    const scrape = await metrics.registry.metrics();
    expect(scrape).toContain('billing_ledger_dead_letters_total{consumer="test-model"} 1');
    expect(scrape).toContain(`billing_ledger_consumer_lag{group="${namespace}.test-model",partition="0"} 0`);
    expect(scrape).toContain('billing_ledger_consumer_state{consumer="test-model",state="running"} 1');

    broken = false;
    const outcomes = await replayDeadLetters(letters, [model], { consumer: 'test-model' });
    expect(outcomes.map((o) => [o.outcome, o.letter.event?.eventId])).toEqual([['replayed', poison.eventId]]);
    expect(model.delivered.get(poison.eventId)).toBe(1);
    expect(await replayDeadLetters(letters, [model], { consumer: 'test-model' })).toEqual([]);
    expect(model.delivered.get(poison.eventId)).toBe(1);
    expect((await letters.list({ consumer: 'test-model', all: true }))[0]?.replayedAt).toBeInstanceOf(Date);
  });

  it('retries a batch that fails on infrastructure until it passes: every event applied once, nothing dead-lettered, status back to running', async () => {
    const model = new TestReadModel();
    const events = Array.from({ length: 12 }, (_, i) => busEvent(`cus_${i % 3}`, i + 1));
    let failures = 4;
    const states = new Set<string>();
    model.fault = () => {
      states.add(runtime.status()['test-model']?.state ?? '');
      if (failures-- > 0)
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    };
    await publish(0, events.slice(0, 6));
    await publish(2, events.slice(6));

    runtime.start(model);
    await eventually(async () => model.has(events), Boolean, { timeoutMs: 30_000 });

    expect(model.doubled()).toEqual([]);
    expect(model.delivered.size).toBe(events.length);
    expect(states.has('retrying')).toBe(true);
    expect(await letters.list({ consumer: 'test-model' })).toEqual([]);
    expect((await metrics.consumerRetries.get()).values[0]?.value).toBe(4);
    await eventually(
      async () => runtime.status()['test-model']?.state,
      (s) => s === 'running',
    );
  });

  it('answers StoreLostError by calling prepare() again and resuming from the checkpoint it gives', async () => {
    const model = new TestReadModel();
    const first = [1, 2, 3].map((n) => busEvent('cus_A', n));
    const second = [4, 5].map((n) => busEvent('cus_A', n));
    await publish(1, first);
    runtime.start(model);
    await eventually(async () => model.has(first), Boolean, { timeoutMs: 30_000 });
    expect(model.checkpoints.get(1)).toBe('3');

    // The store loses everything after event 2; the next batch finds out.
    let lost = true;
    model.fault = () => {
      if (!lost) return;
      lost = false;
      model.delivered.delete(first[2]?.eventId as string);
      model.checkpoints.set(1, '2');
      throw new StoreLostError('test-model', 'marker missing');
    };
    const batchesBefore = model.batches.length;
    await publish(1, second);
    await eventually(async () => model.has([...first, ...second]), Boolean, { timeoutMs: 30_000 });

    expect(model.prepares).toBe(2);
    // Resumed at offset 2 (the model's checkpoint), not at 3 (the group's commit): event 3 came back.
    const resumed = model.batches.slice(batchesBefore).flatMap((b) => b.events.map((e) => e.eventId));
    expect(resumed[0]).toBe(first[2]?.eventId);
    expect(resumed).toEqual([first[2], ...second].map((e) => e?.eventId));
    expect((await metrics.consumerRestarts.get()).values).toEqual([
      expect.objectContaining({ labels: { consumer: 'test-model', reason: 'store_lost' }, value: 1 }),
    ]);
  });

  it('restarts a consumer that kafkajs will not restart (a crash outside the model) and goes on', async () => {
    const model = new TestReadModel();
    const poison = busEvent('cus_A', 1);
    const later = busEvent('cus_A', 2);
    model.fault = (batch) => {
      if (batch.events.some((e) => e.eventId === poison.eventId)) throw new RangeError('Invalid time value');
    };
    // The dead-letter table answers a non-transient error once: the batch handler throws, kafkajs crashes.
    let crashes = 1;
    const flaky = new (class extends DeadLetterStore {
      override async record(letter: DeadLetter): Promise<boolean> {
        if (crashes-- > 0) throw new TypeError('dead letter store is broken');
        return super.record(letter);
      }
    })(db.pool);
    runtime = new ConsumerRuntime({
      bus,
      namespace,
      deadLetters: flaky,
      logger: silentLogger,
      metrics,
      backoff: { initialMs: 50, maxMs: 500 },
    });
    await publish(2, [poison, later]);
    runtime.start(model);

    await eventually(async () => model.has([later]), Boolean, { timeoutMs: 40_000 });
    expect(model.prepares).toBe(2);
    expect((await metrics.consumerRestarts.get()).values).toEqual([
      expect.objectContaining({ labels: { consumer: 'test-model', reason: 'crash' }, value: 1 }),
    ]);
    expect(runtime.status()['test-model']?.lastError?.message).toBe('TypeError: dead letter store is broken');
    expect((await letters.list({ consumer: 'test-model' })).map((l) => l.event?.eventId)).toEqual([
      poison.eventId,
    ]);
    await eventually(
      async () => runtime.status()['test-model']?.state,
      (s) => s === 'running',
    );
  });

  it("resumes from the model's checkpoints, not the group's committed offsets, in both directions", async () => {
    const model = new TestReadModel();
    const p0 = [1, 2, 3, 4].map((n) => busEvent('cus_A', n));
    const p1 = [5, 6, 7].map((n) => busEvent('cus_B', n));
    await publish(0, p0);
    await publish(1, p1);
    // Kafka says partition 1 is all consumed; the model's checkpoint says it has nothing of it.
    await admin.setOffsets({
      groupId: `${namespace}.test-model`,
      topic,
      partitions: [{ partition: 1, offset: '3' }],
    });
    // The model says it holds partition 0 up to offset 2; Kafka has no commit for it.
    model.checkpoints.set(0, '2');
    model.checkpoints.set(1, '0');

    runtime.start(model);
    await eventually(async () => model.has([...p0.slice(2), ...p1]), Boolean, { timeoutMs: 30_000 });

    expect(model.delivered.has(p0[0]?.eventId as string)).toBe(false);
    expect(model.delivered.has(p0[1]?.eventId as string)).toBe(false);
    expect(model.batches.flatMap((b) => b.events.map((e) => e.position)).sort()).toEqual([
      '3',
      '4',
      '5',
      '6',
      '7',
    ]);
  });

  it('starts in the background: start() returns at once, the state is starting until the group is joined', async () => {
    const model = new TestReadModel();
    const started = Date.now();
    runtime.start(model);
    expect(Date.now() - started).toBeLessThan(100);
    expect(runtime.status()['test-model']?.state).toBe('starting');
    expect(runtime.healthy()).toBe(false);
    expect(runtime.componentReports()['consumer:test-model']).toMatchObject({
      status: 'degraded',
      state: 'starting',
    });
    await eventually(
      async () => runtime.status()['test-model']?.state,
      (s) => s === 'running',
      { timeoutMs: 30_000 },
    );
    expect(runtime.healthy()).toBe(true);
    expect(runtime.componentReports()['consumer:test-model']).toMatchObject({
      status: 'ready',
      state: 'running',
    });
  });

  it('keeps trying to join while Kafka is unreachable (starting, with the error), then joins and consumes once it answers', async () => {
    const proxy = await tcpProxy(Number((brokers[0] as string).split(':')[1]));
    const unreachable = new KafkaBus({
      brokers: [`127.0.0.1:${proxy.port}`],
      topic,
      partitions: 3,
      logger: silentLogger,
      retries: 1,
    });
    const model = new TestReadModel();
    const event = busEvent('cus_A', 1);
    await publish(1, [event]);
    runtime = new ConsumerRuntime({
      bus: unreachable,
      namespace,
      deadLetters: letters,
      logger: silentLogger,
      backoff: { initialMs: 50, maxMs: 300 },
    });
    try {
      runtime.start(model);
      const down = await eventually(
        async () => runtime.status()['test-model'],
        (status) => status?.lastError !== undefined,
      );
      expect(down?.state).toBe('starting');
      expect(runtime.healthy()).toBe(false);
      await proxy.open();
      await eventually(async () => model.has([event]), Boolean, { timeoutMs: 30_000 });
      expect(runtime.status()['test-model']?.state).toBe('running');
    } finally {
      await runtime.stop();
      await proxy.close();
    }
  });

  it('stops gracefully: waits for the batch in flight, then reports stopped', async () => {
    const model = new TestReadModel();
    const event = busEvent('cus_A', 1);
    let inFlight = false;
    let finished = false;
    const slow = model.apply.bind(model);
    model.apply = async (batch) => {
      inFlight = true;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await slow(batch);
      finished = true;
    };
    runtime.start(model);
    await eventually(
      async () => runtime.status()['test-model']?.state,
      (s) => s === 'running',
      { timeoutMs: 30_000 },
    );
    await publish(0, [event]);
    await eventually(async () => inFlight, Boolean);
    expect(finished).toBe(false);
    await runtime.stop(10_000);
    expect(finished).toBe(true);
    expect(model.delivered.has(event.eventId)).toBe(true);
    expect(runtime.status()['test-model']?.state).toBe('stopped');
  });
});
