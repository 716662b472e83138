import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import type { Logger } from '../shared/logger';
import {
  parseBusEvent,
  type BusEvent,
  type ConsumerHandlers,
  type EventBus,
  type EventConsumer,
  type EventPublisher,
} from './port';

export interface KafkaBusOptions {
  brokers: string[];
  topic: string;
  partitions: number;
  clientId?: string;
  logger: Logger;
}

/** Creates the topic (and its dead-letter topic) if missing: kafkajs consumers on KRaft fail on a missing topic. */
export async function ensureTopics(admin: Admin, topic: string, partitions: number): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const wanted = [topic, `${topic}.dlq`].filter((name) => !existing.has(name));
  if (wanted.length === 0) return;
  await admin.createTopics({
    waitForLeaders: true,
    topics: wanted.map((name) => ({
      topic: name,
      numPartitions: name === topic ? partitions : 1,
      replicationFactor: 1,
    })),
  });
}

export class KafkaBus implements EventBus {
  private readonly kafka: Kafka;

  constructor(private readonly options: KafkaBusOptions) {
    const logger = options.logger;
    this.kafka = new Kafka({
      clientId: options.clientId ?? 'billing-ledger',
      brokers: options.brokers,
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => logger.warn({ kafka: entry.namespace, ...entry.log }, entry.log.message),
      retry: { retries: 8, initialRetryTime: 200 },
    });
  }

  async ensureTopics(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, this.options.topic, this.options.partitions);
    } finally {
      await admin.disconnect();
    }
  }

  /** Fails when the broker does not answer: used by /ready. */
  async ping(): Promise<void> {
    const admin = this.kafka.admin({ retry: { retries: 0 } });
    await admin.connect();
    try {
      await admin.describeCluster();
    } finally {
      await admin.disconnect();
    }
  }

  publisher(): EventPublisher {
    return new KafkaPublisher(
      this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 }),
      this.options.topic,
    );
  }

  consumer(group: string): EventConsumer {
    return new KafkaConsumer(this.kafka, group, this.options.topic, this.options.logger);
  }
}

class KafkaPublisher implements EventPublisher {
  private connected: Promise<void> | null = null;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
  ) {}

  async publish(events: BusEvent[]): Promise<void> {
    if (events.length === 0) return;
    this.connected ??= this.producer.connect();
    await this.connected;
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: events.map((event) => ({
        key: event.customerId,
        value: JSON.stringify(event),
        headers: {
          'event-type': event.type,
          'event-id': event.eventId,
          'schema-version': String(event.metadata.schemaVersion),
        },
      })),
    });
  }

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
  }
}

class KafkaConsumer implements EventConsumer {
  private readonly consumer: Consumer;
  private readonly dlqProducer: Producer;

  constructor(
    kafka: Kafka,
    private readonly group: string,
    private readonly topic: string,
    private readonly logger: Logger,
  ) {
    this.consumer = kafka.consumer({ groupId: group, sessionTimeout: 15000, heartbeatInterval: 1000 });
    this.dlqProducer = kafka.producer();
  }

  async start(handlers: ConsumerHandlers): Promise<void> {
    await this.consumer.connect();
    await this.dlqProducer.connect();
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const events: BusEvent[] = [];
        for (const message of batch.messages) {
          const raw = message.value?.toString('utf8') ?? '';
          const parsed = parseBusEvent(raw);
          if (parsed.ok) {
            events.push(parsed.event);
          } else {
            const letter = { raw, reason: parsed.reason, partition: batch.partition, offset: message.offset };
            await handlers.deadLetter(letter);
            await this.dlqProducer.send({
              topic: `${this.topic}.dlq`,
              messages: [
                { key: message.key, value: raw, headers: { reason: parsed.reason, group: this.group } },
              ],
            });
            this.logger.warn(
              { group: this.group, ...letter, raw: raw.slice(0, 200) },
              'dead-lettered a bus message',
            );
          }
        }
        if (!isRunning() || isStale()) return;
        // Effects are idempotent (guarded by position), so committing after applying is at-least-once made exact.
        await handlers.handle(events);
        const last = batch.messages[batch.messages.length - 1];
        if (last) {
          resolveOffset(last.offset);
          // With autoCommit off, commitOffsetsIfNecessary() commits nothing: commit explicitly.
          await this.consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
          ]);
        }
        await heartbeat();
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    await this.dlqProducer.disconnect();
  }
}
