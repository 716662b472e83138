import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { startSystem, type RunningSystem, type SystemOptions } from '../../src/app/system';
import { KafkaBus } from '../../src/bus/kafka-bus';
import { MemoryCheckpoints } from '../../src/relay/checkpoints';
import { Relay } from '../../src/relay/relay';
import { loadConfig, type Config } from '../../src/config/config';
import { silentLogger } from '../../src/shared/logger';
import { createTestDatabase, type TestDatabase } from './postgres';

export const TEST_API_KEY = 'integration-test-key';

export interface TestSystem extends RunningSystem {
  url: string;
  config: Config;
  namespace: string;
  /** Signs `payload` with the configured webhook secret and posts it to the running gateway. */
  postWebhook(payload: unknown, options?: { secret?: string; signature?: string }): Promise<Response>;
  /**
   * Waits until everything posted so far has reached every read model: the inbox is drained,
   * the relay has published up to the head of the log, and every consumer group has no lag.
   */
  settle(timeoutMs?: number): Promise<void>;
  /** Publishes the whole log to Kafka again, as a relay with a fresh checkpoint would (a replay). */
  republishAll(name: string): Promise<number>;
  /** GET with the test API key. */
  get(path: string, headers?: Record<string, string>): Promise<Response>;
}

/** A name no other test file uses: consumer groups, Redis keys and the Kafka topic hang off it. */
export function testNamespace(prefix: string): string {
  return `${prefix}${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

/** The configuration of a system isolated for one test file: its database, topic and an ephemeral port. */
export function testConfig(databaseUrl: string, namespace: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    ...process.env,
    DATABASE_URL: databaseUrl,
    PORT: '0',
    KAFKA_TOPIC: `billing-ledger.test.${namespace}`,
    KAFKA_PARTITIONS: '3',
    API_KEYS: `${TEST_API_KEY}:*`,
    ...env,
  });
}

/** Signs a raw body the way Stripe does (t=...,v1=HMAC-SHA256). */
export function signStripePayload(body: string, secret: string): string {
  return Stripe.webhooks.generateTestHeaderString({ payload: body, secret });
}

/**
 * A whole system against the real services (started by infra/local/stack.sh), isolated from
 * other test files: its own PostgreSQL database, Kafka topic, consumer groups and Redis keys.
 */
export async function startTestSystem(
  env: Record<string, string> = {},
  options: Pick<SystemOptions, 'decorateReadModel'> = {},
): Promise<TestSystem> {
  const namespace = testNamespace('t');
  const db: TestDatabase = await createTestDatabase({ prefix: 'it' });
  const config = testConfig(db.url, namespace, { API_KEYS: `${TEST_API_KEY}:*`, ...env });
  const system = await startSystem(config, { namespace, logger: silentLogger, ...options });
  if (!system.url) throw new Error('the gateway did not start');
  const url = system.url;
  const secret = config.STRIPE_WEBHOOK_SECRET[0] as string;

  return {
    ...system,
    url,
    config,
    namespace,
    async postWebhook(payload, options = {}) {
      const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
      const signature = options.signature ?? signStripePayload(body, options.secret ?? secret);
      return fetch(`${url}/webhooks/stripe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': signature },
        body,
      });
    },
    settle: (timeoutMs = 30_000) => settle(system, config, namespace, timeoutMs),
    async republishAll(name) {
      const bus = new KafkaBus({
        brokers: config.KAFKA_BROKERS,
        topic: config.KAFKA_TOPIC,
        partitions: config.KAFKA_PARTITIONS,
        logger: silentLogger,
      });
      const publisher = bus.publisher();
      const relay = new Relay(system.store, publisher, new MemoryCheckpoints(), {
        name,
        logger: silentLogger,
      });
      let total = 0;
      try {
        for (let published = await relay.runOnce(); published > 0; published = await relay.runOnce())
          total += published;
      } finally {
        await publisher.close();
      }
      return total;
    },
    get(path, headers = {}) {
      return fetch(`${url}${path}`, { headers: { authorization: `Bearer ${TEST_API_KEY}`, ...headers } });
    },
    async stop(deadlineMs) {
      const clean = await system.stop(deadlineMs);
      await deleteKeys(config.REDIS_URL, `${namespace}:*`);
      await deleteTopics(config.KAFKA_BROKERS, [config.KAFKA_TOPIC, `${config.KAFKA_TOPIC}.dlq`]);
      await db.drop();
      return clean;
    },
  };
}

export const CONSUMER_GROUPS = ['entitlements', 'audit-log'];

async function settle(
  system: RunningSystem,
  config: Config,
  namespace: string,
  timeoutMs: number,
): Promise<void> {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({ brokers: config.KAFKA_BROKERS, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await eventually(
      async () => {
        const pending = await system.pool.query(
          `SELECT count(*)::int AS n FROM stripe_inbox WHERE status = 'pending'`,
        );
        const head = await system.store.headPosition();
        const relayed = await system.pool.query('SELECT position FROM checkpoints WHERE name = $1', [
          `${namespace}:relay`,
        ]);
        const relayPosition = relayed.rows[0] ? BigInt(relayed.rows[0].position) : 0n;
        return {
          pending: pending.rows[0].n as number,
          behind: (head - relayPosition).toString(),
          lag: await consumerLag(admin, config.KAFKA_TOPIC, namespace).catch(
            // A broker that has just started answers "not the coordinator/leader" for a while.
            (error: Error) => `unknown (${error.message})`,
          ),
        };
      },
      (s) => s.pending === 0 && s.behind === '0' && s.lag === '0',
      { timeoutMs, intervalMs: 100 },
    );
  } finally {
    await admin.disconnect();
  }
}

async function consumerLag(
  admin: import('kafkajs').Admin,
  topic: string,
  namespace: string,
): Promise<string> {
  const ends = await admin.fetchTopicOffsets(topic);
  let lag = 0n;
  for (const group of CONSUMER_GROUPS) {
    const [committed] = await admin.fetchOffsets({ groupId: `${namespace}.${group}`, topics: [topic] });
    for (const end of ends) {
      const done = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
      const consumed = BigInt(done) < 0n ? BigInt(end.low) : BigInt(done);
      lag += BigInt(end.high) - consumed;
    }
  }
  return lag.toString();
}

async function deleteTopics(brokers: string[], topics: string[]): Promise<void> {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

async function deleteKeys(redisUrl: string, pattern: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    let removed = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) removed += await redis.del(...keys);
    } while (cursor !== '0');
    return removed;
  } finally {
    redis.disconnect();
  }
}

import { eventually } from './eventually';
export { eventually };
