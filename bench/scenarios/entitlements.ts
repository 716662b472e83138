import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { toBusEvent, type BusEvent } from '../../src/bus/port';
import { loadCatalog } from '../../src/catalog/catalog';
import { processStripeEvent } from '../../src/commands/process-stripe-event';
import { MemoryEventStore } from '../../src/eventstore/memory-event-store';
import { entitlementsReadModel } from '../../src/projections/entitlements/entitlements-read-model';
import type { PartitionBatch } from '../../src/runtime/read-model';
import { silentLogger } from '../../src/shared/logger';
import { subscriptionCreatedEvent } from '../../test/support/stripe-fixtures';
import type { BenchFigure, BenchScenario } from '../run';

const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 100_000);
/** Loaded as the consumer runtime drives the model: partitions concurrently, Kafka-sized batches. */
const PARTITIONS = 6;
const BATCH = 500;
/** Light and heavy concurrent load. */
const CONNECTIONS = [8, 64];
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const API_KEY = 'bench-api-key';
const TIERS = ['basic', 'premium', 'enterprise', 'unlimited'];

/** One real SubscriptionStarted per tier, decided by the domain from a Stripe payload. */
async function templates(): Promise<BusEvent[]> {
  const store = new MemoryEventStore();
  for (const tier of TIERS) {
    await processStripeEvent(
      store,
      subscriptionCreatedEvent({
        id: `sub_tpl_${tier}`,
        customer: `cus_tpl_${tier}`,
        items: [{ price: { id: `price_${tier}_monthly` } }],
      }),
    );
  }
  return (await store.readAll()).map(toBusEvent);
}

function forCustomer(template: BusEvent, n: number): BusEvent {
  const customerId = `cus_bench${n}`;
  return {
    ...template,
    customerId,
    position: String(n + 1),
    streamName: `subscription-sub_bench${n}`,
    data: { ...template.data, customerId, subscriptionId: `sub_bench${n}` },
  };
}

function startServer(redisUrl: string, prefix: string): Promise<{ port: number; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(__dirname, '..', 'support', 'entitlements-server.ts'),
      redisUrl,
      prefix,
      API_KEY,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`entitlements server exited with ${code}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /listening (\d+)/.exec(chunk.toString());
      if (match) resolve({ port: Number(match[1]), stop: () => child.kill('SIGTERM') });
    });
  });
}

/** Removes the bench keys. */
async function clear(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

const scenario: BenchScenario = {
  description: `GET /v1/customers/{id}/entitlements under concurrent load, ${CUSTOMERS.toLocaleString('en-US')} customers in Redis`,
  async run(log) {
    const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:63790';
    const prefix = `bench:${Date.now()}:ent:`;
    const catalog = loadCatalog();
    const tpl = await templates();
    const figures: BenchFigure[] = [];

    // Load through the read model itself, as the runtime drives it: each partition's batches in
    // order, the partitions concurrently on one Redis connection (one per process, as in `start`).
    const redis = new Redis(redisUrl);
    const connections = [redis];
    const model = entitlementsReadModel({
      redis,
      // An empty log: prepare() builds nothing and marks the store.
      store: new MemoryEventStore(),
      logIdentity: async () => 'bench-log',
      catalog,
      logger: silentLogger,
      prefix,
    });
    await model.prepare(new AbortController().signal);
    const partitionBatches = (partition: number, count: number): PartitionBatch[] => {
      const batches: PartitionBatch[] = [];
      let events: BusEvent[] = [];
      let offset = 0;
      for (let n = partition; n < count; n += PARTITIONS) {
        events.push(forCustomer(tpl[n % tpl.length] as BusEvent, n));
        offset += 1;
        if (events.length === BATCH || n + PARTITIONS >= count) {
          batches.push({ partition, events, nextOffset: String(offset) });
          events = [];
        }
      }
      return batches;
    };
    const load = async (partitions: number[], count: number) => {
      const started = performance.now();
      let loaded = 0;
      await Promise.all(
        partitions.map(async (partition) => {
          for (const batch of partitionBatches(partition, count)) {
            await model.apply(batch);
            loaded += batch.events.length;
            if (loaded % 20_000 < BATCH) log(`loaded ${loaded.toLocaleString('en-US')} customers`);
          }
        }),
      );
      return loaded / ((performance.now() - started) / 1000);
    };
    // One partition alone first; the store is emptied before the load of every partition.
    const single = Math.min(CUSTOMERS, 30_000);
    const onePartition = await load([0], single * PARTITIONS);
    figures.push({
      metric: 'projection apply, 1 partition',
      value: onePartition,
      unit: 'events/s',
      detail: `${single.toLocaleString('en-US')} customers, batches of ${BATCH}; before (WATCH/GET/MULTI per customer): 4,039`,
    });
    await clear(redis, prefix);
    await model.prepare(new AbortController().signal);
    const loadRate = await load(
      Array.from({ length: PARTITIONS }, (_, p) => p),
      CUSTOMERS,
    );
    figures.push({
      metric: 'projection apply (load)',
      value: loadRate,
      unit: 'events/s',
      detail: `${CUSTOMERS} customers, ${PARTITIONS} partitions concurrently, batches of ${BATCH}, 1 Redis connection; before: 8,131 (6 connections)`,
    });
    const memory = await connections[0]!.info('memory');
    const usedBytes = Number(/used_memory:(\d+)/.exec(memory)?.[1] ?? 0);
    figures.push({
      metric: 'Redis memory per customer',
      value: usedBytes / CUSTOMERS,
      unit: 'bytes',
      detail: 'used_memory / customers (whole server)',
    });

    const server = await startServer(redisUrl, prefix);
    try {
      for (const connections of CONNECTIONS) {
        let i = 0;
        const result = await autocannon({
          url: `http://127.0.0.1:${server.port}`,
          connections,
          duration: DURATION_S,
          headers: { authorization: `Bearer ${API_KEY}` },
          requests: [
            {
              setupRequest: (req) => ({
                ...req,
                path: `/v1/customers/cus_bench${(i = (i * 7919 + 1) % CUSTOMERS)}/entitlements`,
              }),
            },
          ],
        });
        const detail = `${connections} connections, ${DURATION_S}s, random customers; server in its own process`;
        log(`${connections} connections: ${result.requests.total} requests`);
        figures.push(
          { metric: `throughput @${connections}`, value: result.requests.average, unit: 'req/s', detail },
          { metric: `latency p50 @${connections}`, value: result.latency.p50, unit: 'ms', detail },
          { metric: `latency p99 @${connections}`, value: result.latency.p99, unit: 'ms', detail },
          {
            metric: `non-2xx / errors @${connections}`,
            value: result.non2xx + result.errors,
            unit: 'responses',
            detail: `of ${result.requests.total}`,
          },
        );
      }
      // Last, so its log in memory does not weigh on the load generator above. Redis lost
      // everything: prepare() rebuilds it from the log (one event per customer here).
      const eventLog = new MemoryEventStore();
      for (let n = 0; n < CUSTOMERS; n++) {
        const e = forCustomer(tpl[n % tpl.length] as BusEvent, n);
        await eventLog.appendToStream(
          e.streamName,
          [{ id: randomUUID(), type: e.type, data: e.data, metadata: e.metadata }],
          'any',
        );
      }
      const rebuildPrefix = `${prefix}rebuild:`;
      const rebuilding = entitlementsReadModel({
        redis,
        store: eventLog,
        logIdentity: async () => 'bench-log',
        catalog,
        logger: silentLogger,
        prefix: rebuildPrefix,
      });
      const rebuildStarted = performance.now();
      await rebuilding.prepare(new AbortController().signal);
      figures.push({
        metric: 'rebuild from the log (emptied store)',
        value: CUSTOMERS / ((performance.now() - rebuildStarted) / 1000),
        unit: 'customers/s',
        detail: `${CUSTOMERS} customers, fold then pipelined writes of 1,000; issue 8: 6,930 customers in 10 s by hand`,
      });
      await clear(redis, rebuildPrefix);
    } finally {
      server.stop();
      await clear(redis, prefix);
      connections.forEach((c) => c.disconnect());
    }
    return figures;
  },
};

export default scenario;
