import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { KafkaBus } from '../bus/kafka-bus';
import { DEFAULT_CATALOG_PATH, loadCatalog, type PlanCatalog } from '../catalog/catalog';
import { CommandHandler } from '../commands/handle-command';
import { processStripeEvent } from '../commands/process-stripe-event';
import type { Config } from '../config/config';
import { createEventStore } from '../eventstore/create-event-store';
import type { EventStore } from '../eventstore/port';
import { appendManyWithin, PostgresEventStore } from '../eventstore/postgres-event-store';
import { createGatewayApp } from '../gateway/app';
import { auditRouter } from '../gateway/audit-routes';
import { requireScope } from '../gateway/auth';
import { entitlementsRouter } from '../gateway/entitlements-routes';
import { healthRouter } from '../gateway/health-routes';
import { stripeWebhookRouter } from '../gateway/stripe-webhook-route';
import { PostgresInbox } from '../inbox/inbox';
import { InboxWorker } from '../inbox/inbox-worker';
import { inboxOutcomeOf, stripeBatchProcessor } from '../inbox/stripe-batch-processor';
import {
  ensureClickHouseDatabase,
  pingClickHouse,
  type ClickHouseClient,
} from '../infra/clickhouse/clickhouse';
import { Metrics } from '../infra/metrics/metrics';
import { auditReadModel } from '../projections/audit/audit-read-model';
import type { ReadModel } from '../runtime/read-model';
import { ConsumerRuntime } from '../runtime/consumer-runtime';
import { DeadLetterStore } from '../runtime/dead-letters';
import { readLedgerIdentity } from '../infra/postgres/ledger-identity';
import {
  entitlementsKeyPrefix,
  entitlementsReadModel,
  type EntitlementsReadModel,
} from '../projections/entitlements/entitlements-read-model';
import { entitlementsQueries, type EntitlementsQueries } from '../projections/entitlements/queries';
import { PostgresCheckpoints } from '../relay/checkpoints';
import { leaderLockKey, PostgresLeaderLock } from '../relay/leadership';
import { Relay } from '../relay/relay';
import { withTimeout } from '../shared/async';
import { createLogger, type Logger } from '../shared/logger';
import { ComponentBoard, retryUntilReady } from './components';
import {
  closePools,
  createClickHouse,
  createPools,
  createRedis,
  migrateWhenReachable,
  type Pools,
} from './connections';

/**
 * Composition root: config in, adapters wired, gateway listening, workers started.
 *
 * Start-up order is the point of this file. Only PostgreSQL is awaited before the gateway
 * listens (migrations, then the inbox): a webhook is stored and acknowledged within a second of
 * start whatever Kafka, Redis or ClickHouse are doing. Every worker starts in the background and
 * joins when its own dependencies answer, retrying with backoff; `/ready` reports each one.
 */

export interface SystemOptions {
  /** Serve HTTP (webhooks, query API, health). */
  gateway?: boolean;
  /** Run the inbox worker, the relay and the consumers. */
  workers?: boolean;
  logger?: Logger;
  /** Names that let several systems share one set of servers (tests): consumer groups, Redis keys, relay checkpoint. */
  namespace?: string;
  /** Wraps each read model before the runtime runs it (tests inject a failing handler this way). */
  decorateReadModel?: (model: ReadModel) => ReadModel;
}

export interface RunningSystem {
  /** Base URL of the gateway, when it serves HTTP. */
  url: string | null;
  store: EventStore;
  /** The workers' pool (inbox, event store, checkpoints). */
  pool: Pool;
  pools: Pools;
  redis: Redis;
  clickhouse: ClickHouseClient;
  catalog: PlanCatalog;
  /** The feature-access read model (the consumer applies through it) and its queries. */
  entitlements: EntitlementsReadModel;
  entitlementsQueries: EntitlementsQueries;
  /** Background components and their state, as `/ready` reports them. */
  components: ComponentBoard;
  /**
   * Stops accepting requests, lets in-flight ones finish, stops the workers, closes every
   * client. Past `deadlineMs` (default SHUTDOWN_TIMEOUT_MS) the rest is cut short; resolves
   * false then.
   */
  stop(deadlineMs?: number): Promise<boolean>;
}

/** Everything the small start functions below share. */
interface Wiring {
  config: Config;
  logger: Logger;
  namespace: string;
  pools: Pools;
  store: EventStore;
  redis: Redis;
  clickhouse: ClickHouseClient;
  bus: KafkaBus;
  metrics: Metrics;
  board: ComponentBoard;
  /** Aborted by stop(): every loop and retry ends. */
  signal: AbortSignal;
  /** Background work stop() waits for. */
  running: Promise<unknown>[];
  /** Every read model's consumer group: started with the workers, stopped by stop(). */
  runtime: ConsumerRuntime;
}

export async function startSystem(config: Config, options: SystemOptions = {}): Promise<RunningSystem> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const namespace = options.namespace ?? 'billing-ledger';
  const catalog = loadCatalog(config.PLAN_CATALOG ?? DEFAULT_CATALOG_PATH);

  // The one dependency awaited before listening.
  await migrateWhenReachable(config, logger);
  const pools = createPools(config, logger);
  const store = createEventStore({
    kind: config.EVENT_STORE,
    pool: pools.workers,
    connectionString: config.EVENTSTORE_CONNECTION_STRING,
  });
  // Point-in-time reads fold streams on the read pool, away from appends.
  const readStore =
    config.EVENT_STORE === 'postgres' ? createEventStore({ kind: 'postgres', pool: pools.reads }) : store;
  // None of these waits for its server.
  const redis = createRedis(config, logger);
  const clickhouse = createClickHouse(config);
  const bus = new KafkaBus({
    brokers: config.KAFKA_BROKERS,
    topic: config.KAFKA_TOPIC,
    partitions: config.KAFKA_PARTITIONS,
    logger,
  });

  const entitlementsWiring = { redis, catalog, logger, prefix: entitlementsKeyPrefix(namespace) };
  const entitlements = entitlementsReadModel({
    ...entitlementsWiring,
    store,
    logIdentity: () => readLedgerIdentity(pools.workers),
  });
  const entitlementsReads = entitlementsQueries({ ...entitlementsWiring, store: readStore });
  const relayName = `${namespace}:relay`;
  const checkpoints = new PostgresCheckpoints(pools.workers);
  const metrics = new Metrics({
    relayLag: async () => Number((await store.headPosition()) - ((await checkpoints.load(relayName)) ?? 0n)),
  });
  const abort = new AbortController();
  const wiring: Wiring = {
    config,
    logger,
    namespace,
    pools,
    store,
    redis,
    clickhouse,
    bus,
    metrics,
    board: new ComponentBoard(),
    signal: abort.signal,
    running: [],
    runtime: new ConsumerRuntime({
      bus,
      // Consumer groups are per topic: a kafkajs group whose members subscribe to different
      // topics can leave a member without partitions (two environments on one broker).
      namespace: options.namespace ?? config.KAFKA_TOPIC,
      deadLetters: new DeadLetterStore(pools.workers),
      logger,
      metrics,
    }),
  };

  let worker: InboxWorker | null = null;
  if (options.workers !== false) {
    worker = startInboxWorker(wiring);
    const topics = ensureTopicsInBackground(wiring);
    startRelay(wiring, topics, checkpoints, relayName);
    const models = [entitlements, auditReadModel({ pool: pools.workers, logger })].map(
      (model) => options.decorateReadModel?.(model) ?? model,
    );
    // The runtime joins (and rejoins) by itself; waiting for the topics only spares it failed joins.
    void topics.then((ok) => {
      if (ok) for (const model of models) wiring.runtime.start(model);
    });
    ensureClickHouseInBackground(wiring);
  }

  let server: Server | null = null;
  if (options.gateway !== false) {
    server = await listen(
      wiring,
      createGateway(wiring, {
        onWebhookStored: () => worker?.kick(),
        entitlements: entitlementsReads,
        catalog,
      }),
    );
  }

  return {
    url: server ? urlOf(server) : null,
    store,
    pool: pools.workers,
    pools,
    redis,
    clickhouse,
    catalog,
    entitlements,
    entitlementsQueries: entitlementsReads,
    components: wiring.board,
    stop: (deadlineMs = config.SHUTDOWN_TIMEOUT_MS) =>
      stopSystem(wiring, { abort, server, readStore }, deadlineMs),
  };
}

// ─── Inbox worker and relay ──────────────────────────────────────────────────────────────────

/** Turns stored webhooks into commands. Needs PostgreSQL only, so it starts at once. */
function startInboxWorker(w: Wiring): InboxWorker {
  const { logger, metrics, store } = w;
  // Streams' state and revision stay cached between commands (a cache: appends carry the revision).
  const handler = new CommandHandler(store);
  const worker = new InboxWorker(
    new PostgresInbox(w.pools.workers),
    async (entry) =>
      inboxOutcomeOf(
        await processStripeEvent(store, entry.payload, { correlationId: entry.stripeEventId, handler }),
      ),
    logger,
    {
      // A batch of customers at a time, its events in one appendMany; on PostgreSQL committed in
      // the same transaction as the inbox outcomes.
      processor: stripeBatchProcessor({
        handler,
        appendWithin: store instanceof PostgresEventStore ? appendManyWithin : undefined,
        concurrency: 8,
        logger,
        onResult: (entry, outcome) => {
          metrics.inbox.inc({ outcome: outcome === 'failed' ? 'failed' : outcome.status });
          if (outcome !== 'failed' && outcome.status === 'invalid')
            logger.warn(
              { stripeEventId: entry.stripeEventId, reason: (outcome.detail as { reason?: string }).reason },
              'stripe event rejected',
            );
        },
      }),
    },
  );
  runInBackground(w, 'inbox-worker', worker.run(w.signal));
  return worker;
}

/** The topic and its dead-letter topic, created once Kafka answers; relay and consumers wait for it. */
function ensureTopicsInBackground(w: Wiring): Promise<boolean> {
  w.board.set('kafka-topics', 'waiting');
  return retryUntilReady('kafka topics', () => w.bus.ensureTopics(), {
    signal: w.signal,
    logger: w.logger,
    board: { board: w.board, name: 'kafka-topics' },
  }).then((done) => {
    if (done) w.board.set('kafka-topics', 'running');
    return done !== null;
  });
}

/** Streams the log to Kafka once the topics exist; retries failed batches itself. */
function startRelay(
  w: Wiring,
  topics: Promise<boolean>,
  checkpoints: PostgresCheckpoints,
  name: string,
): void {
  w.board.set('relay', 'waiting');
  const run = topics.then(async (ready) => {
    if (!ready) return;
    const publisher = w.bus.publisher();
    const relay = new Relay(w.store, publisher, checkpoints, {
      name,
      logger: w.logger,
      onPublished: (count) => w.metrics.relayed.inc(count),
      // Woken by appends (LISTEN/NOTIFY); only the instance holding the lock relays.
      wakeup: w.store.changes?.(),
      leadership: new PostgresLeaderLock(w.pools.workers.options, leaderLockKey(name)),
    });
    w.board.describe('relay', () => ({ leader: relay.isLeader }));
    w.board.set('relay', 'running');
    await relay.run(w.signal).finally(() => publisher.close());
  });
  runInBackground(w, 'relay', run, { markRunning: false });
}

// ─── Other stores ────────────────────────────────────────────────────────────────────────────

/** The `billing` database, for the revenue read model; created once ClickHouse answers. */
function ensureClickHouseInBackground(w: Wiring): void {
  const url = w.config.CLICKHOUSE_URL;
  const options = { requestTimeoutMs: w.config.CLICKHOUSE_REQUEST_TIMEOUT_MS };
  w.running.push(
    retryUntilReady('clickhouse database', () => ensureClickHouseDatabase(url, options), {
      signal: w.signal,
      logger: w.logger,
    }),
  );
}

/** Keeps a background promise for stop(), and records how it ends. */
function runInBackground(
  w: Wiring,
  component: string,
  work: Promise<void>,
  { markRunning = true } = {},
): void {
  if (markRunning) w.board.set(component, 'running');
  w.running.push(
    work.then(
      () => w.board.set(component, 'stopped'),
      (error: unknown) => {
        w.board.set(component, 'crashed', error);
        w.logger.error({ err: error, component }, 'background component crashed');
      },
    ),
  );
}

// ─── Gateway ─────────────────────────────────────────────────────────────────────────────────

function createGateway(
  w: Wiring,
  parts: {
    onWebhookStored: () => void;
    entitlements: EntitlementsQueries;
    catalog: PlanCatalog;
  },
) {
  const { config, logger, metrics, pools } = w;
  return createGatewayApp(
    [
      healthRouter({
        intake: { postgres: async () => void (await pools.intake.query('SELECT 1')) },
        workers: {
          eventStore: async () => void (await w.store.headPosition()),
          redis: async () => void (await w.redis.ping()),
          kafka: () => w.bus.ping(),
        },
        // No worker writes to ClickHouse yet: reported, not required.
        optional: { clickhouse: () => pingClickHouse(w.clickhouse) },
        components: () => ({ ...w.board.report(), ...w.runtime.componentReports() }),
      }),
      stripeWebhookRouter({
        secrets: config.STRIPE_WEBHOOK_SECRET,
        maxBodyBytes: config.WEBHOOK_MAX_BODY_BYTES,
        inbox: new PostgresInbox(pools.intake),
        logger,
        onStored: parts.onWebhookStored,
        onResult: (result) => metrics.webhooks.inc({ result }),
      }),
      entitlementsRouter({
        reader: parts.entitlements,
        pointInTime: parts.entitlements.pointInTime,
        catalog: parts.catalog,
        guard: requireScope(config.API_KEYS, 'entitlements:read'),
      }),
      auditRouter({ pool: pools.reads, guard: requireScope(config.API_KEYS, 'audit:read') }),
      metrics.router(),
    ],
    logger,
    [metrics.httpMiddleware()],
  );
}

async function listen(w: Wiring, app: ReturnType<typeof createGateway>): Promise<Server> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(w.config.PORT, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  // Node's own start and module loading included: what an operator waits for after a restart.
  w.logger.info(
    { url: urlOf(server), sinceProcessStartMs: Math.round(process.uptime() * 1000) },
    'gateway listening',
  );
  return server;
}

function urlOf(server: Server): string | null {
  const address = server.address();
  return typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : null;
}

// ─── Shutdown ────────────────────────────────────────────────────────────────────────────────

/** In order: stop accepting and drain HTTP, stop the workers, close the clients; all within the deadline. */
async function stopSystem(
  w: Wiring,
  parts: { abort: AbortController; server: Server | null; readStore: EventStore },
  deadlineMs: number,
): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  const left = () => Math.max(0, deadline - Date.now());
  const within = async (what: string, work: Promise<unknown>): Promise<boolean> => {
    const started = Date.now();
    try {
      await withTimeout(work, left(), `${what}: shutdown deadline passed`);
      w.logger.debug({ step: what, ms: Date.now() - started }, 'shutdown step done');
      return true;
    } catch (error) {
      w.logger.warn({ err: (error as Error).message }, 'shutdown step cut short');
      return false;
    }
  };

  let clean = true;
  const { server } = parts;
  if (server) {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    clean = (await within('http drain', closed)) && clean;
    server.closeAllConnections();
  }
  parts.abort.abort();
  clean = (await within('workers', Promise.allSettled(w.running))) && clean;
  clean = (await within('consumers', w.runtime.stop(left()))) && clean;
  const closing = [
    parts.readStore === w.store ? Promise.resolve() : parts.readStore.close(),
    w.store.close(),
    closePools(w.pools),
    // QUIT waits in the offline queue while Redis is unreachable: only a connected client says goodbye.
    w.redis.status === 'ready'
      ? w.redis.quit().catch(() => undefined)
      : Promise.resolve(w.redis.disconnect()),
    w.clickhouse.close(),
  ];
  clean = (await within('clients', Promise.allSettled(closing))) && clean;
  w.redis.disconnect();
  return clean;
}

// ─── Command line read side ──────────────────────────────────────────────────────────────────

/** The entitlements read side alone (Redis and the event log), for the command line. */
export async function openReadSide(config: Config, namespace = 'billing-ledger') {
  const logger = createLogger(config.LOG_LEVEL);
  const catalog = loadCatalog(config.PLAN_CATALOG ?? DEFAULT_CATALOG_PATH);
  await migrateWhenReachable(config, logger);
  const pools = createPools(config, logger);
  const store = createEventStore({
    kind: config.EVENT_STORE,
    pool: pools.workers,
    connectionString: config.EVENTSTORE_CONNECTION_STRING,
  });
  const redis = createRedis(config, logger);
  const wiring = { redis, store, catalog, logger, prefix: entitlementsKeyPrefix(namespace) };
  return {
    model: entitlementsReadModel({ ...wiring, logIdentity: () => readLedgerIdentity(pools.workers) }),
    queries: entitlementsQueries(wiring),
    async close() {
      await store.close();
      await closePools(pools);
      redis.disconnect();
    },
  };
}
