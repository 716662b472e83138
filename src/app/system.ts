import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { KafkaBus } from '../bus/kafka-bus';
import type { BusEvent, EventConsumer } from '../bus/port';
import { DEFAULT_CATALOG_PATH, loadCatalog, type PlanCatalog } from '../catalog/catalog';
import { processStripeEvent } from '../commands/process-stripe-event';
import type { Config } from '../config/config';
import { createEventStore } from '../eventstore/create-event-store';
import type { EventStore } from '../eventstore/port';
import { createGatewayApp } from '../gateway/app';
import { requireScope } from '../gateway/auth';
import { auditRouter } from '../gateway/audit-routes';
import { PostgresAuditLog } from '../projections/audit/postgres-audit-log';
import { entitlementsRouter } from '../gateway/entitlements-routes';
import { healthRouter } from '../gateway/health-routes';
import { stripeWebhookRouter } from '../gateway/stripe-webhook-route';
import { PostgresInbox, type InboxOutcome } from '../inbox/inbox';
import { InboxWorker } from '../inbox/inbox-worker';
import { connectClickHouse, pingClickHouse, type ClickHouseClient } from '../infra/clickhouse/clickhouse';
import { migratePostgres } from '../infra/postgres/migrate';
import {
  entitlementsProjection,
  type CustomerAccessState,
} from '../projections/entitlements/entitlements-projection';
import { pointInTimeEntitlements } from '../projections/entitlements/point-in-time';
import {
  RedisEntitlementsStore,
  type CustomerAccessProjection,
} from '../projections/entitlements/redis-entitlements-store';
import { Metrics } from '../infra/metrics/metrics';
import { PostgresCheckpoints } from '../relay/checkpoints';
import { Relay } from '../relay/relay';
import { createLogger, type Logger } from '../shared/logger';

export interface SystemOptions {
  /** Serve HTTP (webhooks, query API, health). */
  gateway?: boolean;
  /** Run the inbox worker, the relay and the consumers. */
  workers?: boolean;
  logger?: Logger;
  /** Names that let several systems share one set of servers (tests): consumer groups, Redis keys, relay checkpoint. */
  namespace?: string;
}

export interface RunningSystem {
  /** Base URL of the gateway, when it serves HTTP. */
  url: string | null;
  store: EventStore;
  pool: Pool;
  redis: Redis;
  clickhouse: ClickHouseClient;
  catalog: PlanCatalog;
  entitlements: RedisEntitlementsStore<CustomerAccessState>;
  accessProjection: CustomerAccessProjection<CustomerAccessState>;
  stop(): Promise<void>;
}

/** Composition root: config in, adapters wired, workers and gateway started. */
export async function startSystem(config: Config, options: SystemOptions = {}): Promise<RunningSystem> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const namespace = options.namespace ?? 'billing-ledger';
  const catalog = loadCatalog(config.PLAN_CATALOG ?? DEFAULT_CATALOG_PATH);

  const pool = new Pool({ connectionString: config.DATABASE_URL, max: 10 });
  await migratePostgres(pool);
  const store = createEventStore({
    kind: config.EVENT_STORE,
    pool,
    connectionString: config.EVENTSTORE_CONNECTION_STRING,
  });
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3, enableOfflineQueue: true });
  const clickhouse = await connectClickHouse(config.CLICKHOUSE_URL);
  const bus = new KafkaBus({
    brokers: config.KAFKA_BROKERS,
    topic: config.KAFKA_TOPIC,
    partitions: config.KAFKA_PARTITIONS,
    logger,
  });
  await bus.ensureTopics();

  const accessProjection = entitlementsProjection(catalog, logger);
  const entitlements = new RedisEntitlementsStore(redis, accessProjection, `${namespace}:ent:`);
  const checkpoints = new PostgresCheckpoints(pool);
  const relayName = `${namespace}:relay`;
  const metrics = new Metrics({
    relayLag: async () => Number((await store.headPosition()) - ((await checkpoints.load(relayName)) ?? 0n)),
  });
  const inbox = new PostgresInbox(pool);
  const abort = new AbortController();
  const running: Promise<void>[] = [];
  const consumers: EventConsumer[] = [];
  let worker: InboxWorker | null = null;

  if (options.workers !== false) {
    worker = new InboxWorker(
      inbox,
      async (entry): Promise<InboxOutcome> => {
        const result = await processStripeEvent(store, entry.payload, {
          correlationId: entry.stripeEventId,
        }).catch((error: unknown) => {
          metrics.inbox.inc({ outcome: 'failed' });
          throw error;
        });
        const status =
          result.outcome === 'applied'
            ? 'processed'
            : result.outcome === 'unhandled_type'
              ? 'unhandled'
              : 'invalid';
        metrics.inbox.inc({ outcome: status });
        if (status === 'invalid')
          logger.warn({ stripeEventId: entry.stripeEventId, reason: result.reason }, 'stripe event rejected');
        return { status, detail: result };
      },
      logger,
    );
    running.push(worker.run(abort.signal));

    const publisher = bus.publisher();
    const relay = new Relay(store, publisher, checkpoints, {
      name: relayName,
      logger,
      onPublished: (count) => metrics.relayed.inc(count),
    });
    running.push(relay.run(abort.signal).finally(() => publisher.close()));

    const auditLog = new PostgresAuditLog(pool, logger);
    const projections: Record<string, (events: BusEvent[]) => Promise<unknown>> = {
      entitlements: (events) => entitlements.applyBatch(events),
      'audit-log': (events) => auditLog.applyBatch(events),
    };
    // One consumer group per read model: each keeps its own offsets and can be rebuilt alone.
    for (const [name, apply] of Object.entries(projections)) {
      const consumer = bus.consumer(`${namespace}.${name}`);
      await consumer.start({
        handle: async (events) => {
          await apply(events);
          metrics.projected.inc({ projection: name }, events.length);
        },
        deadLetter: async (letter) => {
          metrics.deadLetters.inc({ consumer: name });
          logger.warn({ consumer: name, reason: letter.reason }, 'dead letter');
        },
      });
      consumers.push(consumer);
    }
  }

  let server: Server | null = null;
  let url: string | null = null;
  if (options.gateway !== false) {
    const app = createGatewayApp(
      [
        healthRouter({
          postgres: async () => void (await pool.query('SELECT 1')),
          eventStore: async () => void (await store.headPosition()),
          redis: async () => void (await redis.ping()),
          kafka: () => bus.ping(),
          clickhouse: () => pingClickHouse(clickhouse),
        }),
        stripeWebhookRouter({
          secrets: config.STRIPE_WEBHOOK_SECRET,
          maxBodyBytes: config.WEBHOOK_MAX_BODY_BYTES,
          inbox,
          logger,
          onStored: () => worker?.kick(),
          onResult: (result) => metrics.webhooks.inc({ result }),
        }),
        entitlementsRouter({
          reader: entitlements,
          pointInTime: pointInTimeEntitlements(store, entitlements, accessProjection),
          catalog,
          guard: requireScope(config.API_KEYS, 'entitlements:read'),
        }),
        auditRouter({ pool, guard: requireScope(config.API_KEYS, 'audit:read') }),
        metrics.router(),
      ],
      logger,
      [metrics.httpMiddleware()],
    );
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.PORT, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    const address = server.address();
    url = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : null;
    logger.info({ url }, 'gateway listening');
  }

  return {
    url,
    store,
    pool,
    redis,
    clickhouse,
    catalog,
    entitlements,
    accessProjection,
    async stop() {
      abort.abort();
      if (server) await new Promise<void>((resolve) => server?.close(() => resolve()));
      await Promise.allSettled(running);
      await Promise.allSettled(consumers.map((c) => c.stop()));
      await store.close();
      await pool.end();
      redis.disconnect();
      await clickhouse.close();
    },
  };
}

/** The entitlements read side alone (Redis and the event log), for the command line. */
export async function openReadSide(config: Config, namespace = 'billing-ledger') {
  const logger = createLogger(config.LOG_LEVEL);
  const catalog = loadCatalog(config.PLAN_CATALOG ?? DEFAULT_CATALOG_PATH);
  const pool = new Pool({ connectionString: config.DATABASE_URL, max: 4 });
  await migratePostgres(pool);
  const store = createEventStore({
    kind: config.EVENT_STORE,
    pool,
    connectionString: config.EVENTSTORE_CONNECTION_STRING,
  });
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 });
  const projection = entitlementsProjection(catalog, logger);
  const entitlements = new RedisEntitlementsStore(redis, projection, `${namespace}:ent:`);
  return {
    store,
    projection,
    entitlements,
    pointInTime: pointInTimeEntitlements(store, entitlements, projection),
    async close() {
      await store.close();
      await pool.end();
      redis.disconnect();
    },
  };
}
