import {
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type Producer,
  type ProducerConfig,
  type ProducerRecord,
} from 'kafkajs';
import type { Logger } from '../shared/logger';
import type { EventBus, EventPublisher } from './port';

export interface KafkaBusOptions {
  brokers: string[];
  topic: string;
  partitions: number;
  clientId?: string;
  logger: Logger;
  /** kafkajs retries per request before an operation fails (default 8). */
  retries?: number;
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

export interface ConsumerLag {
  group: string;
  partition: number;
  /** Messages in the partition after the group's committed offset (all of them when nothing is committed). */
  lag: number;
}

/** A message for the dead-letter topic `<topic>.dlq`. */
export interface DeadLetterMessage {
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

export class KafkaBus implements EventBus {
  private readonly kafka: Kafka;
  private lagAdmin: Promise<Admin> | null = null;

  constructor(private readonly options: KafkaBusOptions) {
    const logger = options.logger;
    this.kafka = new Kafka({
      clientId: options.clientId ?? 'billing-ledger',
      brokers: options.brokers,
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => logger.warn({ kafka: entry.namespace, ...entry.log }, entry.log.message),
      retry: { retries: options.retries ?? 8, initialRetryTime: 200 },
    });
  }

  get topic(): string {
    return this.options.topic;
  }

  get partitions(): number {
    return this.options.partitions;
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
    const producer = new ReconnectingProducer(this.kafka, { idempotent: true, maxInFlightRequests: 1 });
    const topic = this.options.topic;
    return {
      publish: async (events) => {
        if (events.length === 0) return;
        await producer.send({
          topic,
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
      },
      close: () => producer.close(),
    };
  }

  /** Publishes to `<topic>.dlq`; reconnects after a failure like the event publisher. */
  deadLetterPublisher(): { publish(message: DeadLetterMessage): Promise<void>; close(): Promise<void> } {
    const producer = new ReconnectingProducer(this.kafka, {});
    const topic = `${this.options.topic}.dlq`;
    return {
      publish: async (message) => {
        await producer.send({ topic, acks: -1, messages: [message] });
      },
      close: () => producer.close(),
    };
  }

  /** A raw kafkajs consumer of the group, for the consumer runtime (src/runtime). */
  groupConsumer(groupId: string): Consumer {
    return this.kafka.consumer({ groupId, sessionTimeout: 15000, heartbeatInterval: 1000 });
  }

  /**
   * Lag of each group on each partition of the topic: end offset minus committed offset. Uses
   * one admin client, dropped and reconnected after a failure.
   */
  async consumerLag(groups: readonly string[]): Promise<ConsumerLag[]> {
    this.lagAdmin ??= (async () => {
      const admin = this.kafka.admin({ retry: { retries: 1 } });
      await admin.connect();
      return admin;
    })();
    const connecting = this.lagAdmin;
    try {
      const admin = await connecting;
      const ends = await admin.fetchTopicOffsets(this.options.topic);
      const lags: ConsumerLag[] = [];
      for (const group of groups) {
        const [committed] = await admin.fetchOffsets({ groupId: group, topics: [this.options.topic] });
        for (const end of ends) {
          const done = BigInt(
            committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1',
          );
          const from = done < 0n ? BigInt(end.low) : done;
          lags.push({ group, partition: end.partition, lag: Number(BigInt(end.high) - from) });
        }
      }
      return lags;
    } catch (error) {
      if (this.lagAdmin === connecting) this.lagAdmin = null;
      void connecting.then((admin) => admin.disconnect()).catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    const admin = this.lagAdmin;
    this.lagAdmin = null;
    await admin?.then((a) => a.disconnect()).catch(() => undefined);
  }
}

/**
 * A producer that survives a failed connect or send: the connection is dropped, the producer
 * recreated, and the next send connects again (a plain `connected ??= connect()` would keep a
 * rejected promise forever).
 */
export class ReconnectingProducer {
  private current: { producer: Producer; connected: Promise<void> } | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly config: ProducerConfig,
  ) {}

  async send(record: ProducerRecord): Promise<void> {
    if (!this.current) {
      const producer = this.kafka.producer(this.config);
      this.current = { producer, connected: producer.connect() };
    }
    const current = this.current;
    try {
      await current.connected;
      await current.producer.send(record);
    } catch (error) {
      if (this.current === current) this.current = null;
      await current.producer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    const current = this.current;
    this.current = null;
    if (current) await current.producer.disconnect().catch(() => undefined);
  }
}

/** Headers of a dead-letter message: which group gave up on it, where it was, and why. */
export function deadLetterHeaders(letter: {
  group: string;
  reason: string;
  partition: number;
  offset: string;
  eventId?: string;
}): Record<string, string> {
  return {
    group: letter.group,
    reason: letter.reason,
    partition: String(letter.partition),
    offset: letter.offset,
    ...(letter.eventId ? { 'event-id': letter.eventId } : {}),
  };
}
