import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { startSystem, type RunningSystem } from '../../src/app/system';
import { loadConfig, type Config } from '../../src/config/config';
import { silentLogger } from '../../src/shared/logger';
import { eventually, signStripePayload, testConfig, testNamespace } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { customerCreatedEvent } from '../support/stripe-fixtures';
import { tcpProxy, type TcpProxy } from '../support/tcp-proxy';

/**
 * Start-up and dependency failures against the real services: the gateway needs PostgreSQL
 * alone; Kafka, Redis and ClickHouse may be down at start (a closed proxy port stands for each,
 * so the shared services keep running for other tests) and the workers join when they answer.
 */

const API_KEY = 'startup-test-key';

interface Started {
  system: RunningSystem;
  config: Config;
  namespace: string;
  post(payload: unknown): Promise<Response>;
  ready(route: '/ready' | '/ready/workers'): Promise<{ status: number; body: ReadyBody }>;
}

interface ReadyBody {
  status: string;
  components: Record<string, { status: string; state?: string }>;
}

async function start(db: TestDatabase, env: Record<string, string> = {}): Promise<Started> {
  const namespace = testNamespace('s');
  const config = testConfig(db.url, namespace, { API_KEYS: `${API_KEY}:*`, ...env });
  const system = await startSystem(config, { namespace, logger: silentLogger });
  const url = system.url as string;
  return {
    system,
    config,
    namespace,
    post(payload) {
      const body = JSON.stringify(payload);
      const signature = signStripePayload(body, config.STRIPE_WEBHOOK_SECRET[0] as string);
      return fetch(`${url}/webhooks/stripe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': signature },
        body,
      });
    },
    async ready(route) {
      const response = await fetch(`${url}${route}`);
      return { status: response.status, body: (await response.json()) as ReadyBody };
    },
  };
}

async function cleanUp(started: Started | undefined): Promise<void> {
  if (!started) return;
  await started.system.stop(10_000);
  const real = loadConfig(process.env);
  const redis = new Redis(real.REDIS_URL);
  const keys = await redis.keys(`${started.namespace}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  const admin = new Kafka({ brokers: real.KAFKA_BROKERS, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin
    .deleteTopics({ topics: [started.config.KAFKA_TOPIC, `${started.config.KAFKA_TOPIC}.dlq`] })
    .catch(() => undefined);
  await admin.disconnect();
}

async function inboxStatus(db: TestDatabase, stripeEventId: string): Promise<string | undefined> {
  const { rows } = await db.pool.query('SELECT status FROM stripe_inbox WHERE stripe_event_id = $1', [
    stripeEventId,
  ]);
  return rows[0]?.status as string | undefined;
}

describe('start-up and dependency failures', () => {
  let db: TestDatabase;
  let started: Started | undefined;
  const proxies: TcpProxy[] = [];

  beforeEach(async () => {
    db = await createTestDatabase({ prefix: 'startup' });
  });
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await cleanUp(started);
    started = undefined;
    await db.drop();
  });

  it('stores a webhook within a second of start while Kafka, Redis and ClickHouse are down, then joins each when it answers', async () => {
    const real = loadConfig(process.env);
    const port = (address: string) => Number(address.split(':').pop());
    const kafka = await tcpProxy(port(real.KAFKA_BROKERS[0] as string));
    const redis = await tcpProxy(Number(new URL(real.REDIS_URL).port));
    const clickhouse = await tcpProxy(Number(new URL(real.CLICKHOUSE_URL).port));
    proxies.push(kafka, redis, clickhouse);

    const t0 = Date.now();
    started = await start(db, {
      KAFKA_BROKERS: `127.0.0.1:${kafka.port}`,
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      CLICKHOUSE_URL: `http://127.0.0.1:${clickhouse.port}`,
    });
    const event = customerCreatedEvent({ id: 'cus_Startup1' });
    const response = await started.post(event);
    const acknowledgedMs = Date.now() - t0;
    expect(response.status).toBe(200);
    expect(acknowledgedMs).toBeLessThan(1000);

    // The inbox worker needs PostgreSQL alone: the webhook becomes events in the log.
    await eventually(
      () => inboxStatus(db, event.id),
      (status) => status === 'processed',
      { timeoutMs: 10_000 },
    );
    expect(await started.system.store.headPosition()).toBeGreaterThan(0n);

    const intake = await started.ready('/ready');
    expect(intake.status).toBe(200);
    expect(intake.body.status).toBe('degraded');
    expect(intake.body.components.postgres?.status).toBe('ready');
    for (const name of ['kafka', 'redis', 'clickhouse'])
      expect(intake.body.components[name]?.status).toBe('degraded');
    expect(intake.body.components.relay?.status).toBe('degraded');
    expect((await started.ready('/ready/workers')).status).toBe(503);

    await Promise.all([kafka.open(), redis.open(), clickhouse.open()]);
    const joined = await eventually(
      () => started!.ready('/ready/workers'),
      (r) => r.status === 200,
      { timeoutMs: 45_000, intervalMs: 250 },
    );
    expect(joined.body.status).toBe('ready');
    const entitlements = await eventually(
      () =>
        fetch(`${started!.system.url}/v1/customers/cus_Startup1/entitlements`, {
          headers: { authorization: `Bearer ${API_KEY}` },
        }),
      (r) => r.status === 200,
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    expect(((await entitlements.json()) as { customerId: string }).customerId).toBe('cus_Startup1');
  });

  it('survives PostgreSQL dropping every connection (as in a restart): the process stays up and intake resumes', async () => {
    started = await start(db);
    const first = customerCreatedEvent({ id: 'cus_PgDrop1' });
    expect((await started.post(first)).status).toBe(200);

    // Every connection of the app to its database, idle or checked out, is killed by the server.
    const { rows } = await db.pool.query(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    expect(rows[0].n).toBeGreaterThan(0);

    const second = customerCreatedEvent({ id: 'cus_PgDrop2' });
    const accepted = await eventually(
      () => started!.post(second).catch(() => null),
      (r) => r?.status === 200,
      { timeoutMs: 5_000, intervalMs: 100 },
    );
    expect(accepted?.status).toBe(200);
    for (const id of [first.id, second.id])
      await eventually(
        () => inboxStatus(db, id),
        (status) => status === 'processed',
        { timeoutMs: 15_000 },
      );
    expect((await started.ready('/ready')).status).toBe(200);
  });

  it('stops within its deadline while workers still wait for an unreachable Kafka', async () => {
    const kafka = await tcpProxy(19092);
    proxies.push(kafka);
    started = await start(db, { KAFKA_BROKERS: `127.0.0.1:${kafka.port}` });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const t0 = Date.now();
    const system = started.system;
    started = undefined; // stopped here, not in afterEach
    const clean = await system.stop(5_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(clean).toBe(true);
  });
});
