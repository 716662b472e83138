/**
 * The whole pipeline from outside, as users meet it: `billing-ledger start` in its own process,
 * signed Stripe webhooks offered at fixed rates (open loop), and the entitlements API polled
 * for a sample of customers until each change is visible. Beside it, the raw ceilings of the
 * same machine measured in the same run: bare inbox INSERTs, bare Kafka produce+consume, bare
 * pipelined Redis writes.
 *
 * PIPELINE_RATES=250,500,1000,1500 (webhooks/s) and PIPELINE_SECONDS=30 (per rate) set the load.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import type { BenchFigure, BenchScenario } from '../run';
import {
  type ProcessEnvironment,
  createProcessEnvironment,
  fetchEntitlements,
  PROCESS_API_KEY,
  startAppProcess,
  waitSettled,
} from '../../test/support/app-process';
import {
  customerCreatedEvent,
  invoicePaidEvent,
  subscriptionCreatedEvent,
  subscriptionUpdatedEvent,
  type StripeEvent,
} from '../../test/support/stripe-fixtures';
import { offerLoad, percentile, WebhookSender } from '../../test/support/webhook-traffic';
import { eventually } from '../../test/support/eventually';

const BASIC = { id: 'price_basic_monthly', unitAmount: 999, product: 'prod_basic' };
const PREMIUM = { id: 'price_premium_monthly', unitAmount: 2999, product: 'prod_premium' };

/** What the entitlements answer shows once a webhook took effect (per customer, in order). */
type Visible = (doc: Record<string, unknown>) => boolean;

interface Planned {
  event: StripeEvent;
  customerId: string;
  /** Set on the webhooks whose effect the bench waits to see. */
  visible?: Visible;
}

/**
 * Five webhooks per customer: created, subscription started (basic), invoice paid, upgraded
 * (premium), past due. Customers go in blocks of 50, one step of the whole block at a time, so
 * consecutive webhooks of one customer are 50 deliveries apart.
 */
function plan(run: string, count: number): Planned[] {
  const t = 1_767_225_600;
  const perCustomer: Planned[][] = [];
  for (let i = 0; i < count; i++) {
    const customer = `cus_${run}_${i}`;
    const sub = `sub_${run}_${i}`;
    const id = (n: number) => `evt_${run}_${i}_${n}`;
    const spec = { id: sub, customer, items: [{ id: `si_${run}_${i}`, price: BASIC }], created: t };
    perCustomer.push([
      {
        customerId: customer,
        event: customerCreatedEvent({ id: customer, email: `c${i}@example.com` }, { id: id(1), created: t }),
      },
      {
        customerId: customer,
        event: subscriptionCreatedEvent(spec, { id: id(2), created: t + 1 }),
        visible: (d) => d.tier === 'basic' || d.tier === 'premium',
      },
      {
        customerId: customer,
        event: invoicePaidEvent(
          { id: `in_${run}_${i}`, customer, subscription: sub },
          { id: id(3), created: t + 2 },
        ),
      },
      {
        customerId: customer,
        event: subscriptionUpdatedEvent(
          { ...spec, items: [{ id: `si_${run}_${i}`, price: PREMIUM }] },
          { id: id(4), created: t + 3 },
        ),
        visible: (d) => d.tier === 'premium',
      },
      {
        customerId: customer,
        event: subscriptionUpdatedEvent(
          { ...spec, status: 'past_due', items: [{ id: `si_${run}_${i}`, price: PREMIUM }] },
          { id: id(5), created: t + 4 },
        ),
        visible: (d) => d.status === 'past_due',
      },
    ]);
  }
  const ordered: Planned[] = [];
  for (let block = 0; block < count; block += 50)
    for (let step = 0; step < 5; step++)
      for (let i = block; i < Math.min(count, block + 50); i++) ordered.push(perCustomer[i]![step]!);
  return ordered;
}

/** Polls one customer's entitlements until `visible` holds; answers the time it became visible. */
async function waitVisible(
  url: string,
  customerId: string,
  visible: Visible,
  deadline: number,
): Promise<number | null> {
  let interval = 5;
  while (performance.now() < deadline) {
    const response = await fetch(`${url}/v1/customers/${customerId}/entitlements`, {
      headers: { authorization: `Bearer ${PROCESS_API_KEY}` },
    }).catch(() => null);
    if (response?.status === 200) {
      const doc = (await response.json()) as Record<string, unknown>;
      if (visible(doc)) return performance.now();
    } else await response?.body?.cancel();
    await new Promise((r) => setTimeout(r, interval));
    interval = Math.min(50, interval * 1.5);
  }
  return null;
}

async function bareInboxInserts(
  pool: import('pg').Pool,
  count: number,
  concurrency: number,
): Promise<number> {
  await pool.query('CREATE TABLE bench_inbox (LIKE stripe_inbox INCLUDING ALL)');
  const payload = JSON.stringify(
    subscriptionCreatedEvent({ id: 'sub_x', customer: 'cus_x', items: [{ price: BASIC }] }, { id: 'evt_x' }),
  );
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const n = next++;
        await pool.query(
          `INSERT INTO bench_inbox (stripe_event_id, event_type, payload, stripe_created) VALUES ($1, $2, $3, now())
           ON CONFLICT (stripe_event_id) DO NOTHING`,
          [`evt_bare_${n}`, 'customer.subscription.created', payload],
        );
      }
    }),
  );
  const rate = count / ((performance.now() - started) / 1000);
  await pool.query('DROP TABLE bench_inbox');
  return rate;
}

async function bareKafka(brokers: string[], count: number): Promise<number> {
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING, clientId: 'bench-bare' });
  const topic = `billing-ledger.bench.bare.${randomUUID().slice(0, 8)}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: 6, replicationFactor: 1 }],
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId: `${topic}.g` });
  const value = JSON.stringify({ pad: 'x'.repeat(1200) });
  let received = 0;
  let resolveAll: () => void = () => undefined;
  const all = new Promise<void>((r) => (resolveAll = r));
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      received += batch.messages.length;
      if (received >= count) resolveAll();
    },
  });
  const started = performance.now();
  for (let i = 0; i < count; i += 500) {
    const messages = Array.from({ length: Math.min(500, count - i) }, (_, j) => ({
      key: `cus_${(i + j) % 997}`,
      value,
    }));
    await producer.send({ topic, acks: -1, messages });
  }
  await all;
  const rate = count / ((performance.now() - started) / 1000);
  await consumer.disconnect();
  await producer.disconnect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  return rate;
}

async function bareRedis(url: string, count: number): Promise<number> {
  const redis = new Redis(url);
  const doc = JSON.stringify({ pad: 'x'.repeat(1500) });
  const started = performance.now();
  for (let i = 0; i < count; i += 500) {
    const pipeline = redis.pipeline();
    for (let j = i; j < Math.min(count, i + 500); j++) pipeline.set(`bench:bare:${j % 5000}`, doc);
    await pipeline.exec();
  }
  const rate = count / ((performance.now() - started) / 1000);
  await redis.flushdb();
  redis.disconnect();
  return rate;
}

/**
 * Every 500 ms while a rate runs, how far each stage is behind: pending inbox entries, events
 * not yet relayed, and each consumer group's lag. The largest of each says where the pipeline
 * queues.
 */
function sampleBacklog(environment: ProcessEnvironment): {
  stop(): Promise<Record<'inbox' | 'relay' | 'entitlements' | 'audit', number>>;
} {
  const max = { inbox: 0, relay: 0, entitlements: 0, audit: 0 };
  const kafka = new Kafka({ brokers: environment.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const connected = admin.connect();
  let running = true;
  const loop = (async () => {
    await connected;
    while (running) {
      const { rows } = await environment.pool.query(
        `SELECT (SELECT count(*) FROM stripe_inbox WHERE status = 'pending')::int AS inbox,
                (SELECT coalesce(max(position), 0) FROM events)
                  - coalesce((SELECT position FROM checkpoints WHERE name = 'billing-ledger:relay'), 0) AS relay`,
      );
      max.inbox = Math.max(max.inbox, rows[0].inbox);
      max.relay = Math.max(max.relay, Number(rows[0].relay));
      const ends = await admin.fetchTopicOffsets(environment.topic);
      for (const group of ['entitlements', 'audit-log'] as const) {
        const [committed] = await admin.fetchOffsets({
          groupId: `${environment.topic}.${group}`,
          topics: [environment.topic],
        });
        let lag = 0;
        for (const end of ends) {
          const done = Number(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
          lag += Number(end.high) - (done < 0 ? Number(end.low) : done);
        }
        const key = group === 'audit-log' ? 'audit' : group;
        max[key] = Math.max(max[key], lag);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop.catch(() => undefined);
      await admin.disconnect();
      if (process.env.PIPELINE_DEBUG) {
        const { rows } = await environment.pool.query(
          `SELECT relname, seq_scan, seq_tup_read, idx_scan, n_live_tup, last_autoanalyze FROM pg_stat_user_tables ORDER BY seq_tup_read DESC LIMIT 6`,
        );
        console.log(rows);
      }
      return max;
    },
  };
}

const scenario: BenchScenario = {
  description:
    'signed webhooks at fixed offered rates against `billing-ledger start`: ack latency, received -> entitlement visible, lag; raw ceilings beside',
  async run(log) {
    const rates = (process.env.PIPELINE_RATES ?? '250,500,1000,1500').split(',').map(Number);
    const seconds = Number(process.env.PIPELINE_SECONDS ?? 30);
    const figures: BenchFigure[] = [];
    const environment = await createProcessEnvironment({ redisDb: 7 });
    // PIPELINE_PROCESSES=split: the gateway and the workers in two processes (start --no-workers,
    // start --no-gateway), as a deployment would run them; default: one `start`.
    const split = process.env.PIPELINE_PROCESSES === 'split';
    const app = await startAppProcess(environment, split ? { args: ['--no-workers'] } : {});
    const workers = split ? await startAppProcess(environment, { args: ['--no-gateway'] }) : null;
    const sender = new WebhookSender(app.url, environment.env.STRIPE_WEBHOOK_SECRET!.split(',')[0]!);
    let sustained = 0;
    try {
      // Measure a running system, not its start: consumers joined, then a short warm-up.
      await eventually(
        () =>
          fetch(`${app.url}/ready/workers`).then(
            (r) => r.status,
            () => 0,
          ),
        (status) => status === 200,
        { timeoutMs: 120_000, intervalMs: 250 },
      );
      const warmup = plan('warm', 100);
      await offerLoad(
        sender,
        warmup.map((p) => p.event),
        100,
      );
      await waitSettled(environment, app.url, [...new Set(warmup.map((p) => p.customerId))]);
      log('warmed up: /ready/workers 200, 500 webhooks at 100/s settled');
      for (const rate of rates) {
        const customers = Math.ceil((rate * seconds) / 5);
        const planned = plan(`r${rate}`, customers);
        const sampleEvery = Math.max(1, Math.round(rate / 40));
        const ids = [...new Set(planned.map((p) => p.customerId))];
        const sampled = new Set(ids.filter((_, i) => i % sampleEvery === 0));
        const visibleMs: { sentAt: number; ms: number }[] = [];
        const probes: Promise<void>[] = [];
        let missed = 0;
        let lastVisible = 0;
        const runStart = performance.now();
        log(
          `rate ${rate}/s: ${planned.length} webhooks over ${customers} customers, probing ${sampled.size} customers`,
        );
        const backlog = sampleBacklog(environment);
        const result = await offerLoad(
          sender,
          planned.map((p) => p.event),
          rate,
          {
            onAck: (index, sentAtMs) => {
              const p = planned[index]!;
              if (!p.visible || !sampled.has(p.customerId)) return;
              const sentAbs = runStart + sentAtMs;
              probes.push(
                waitVisible(app.url, p.customerId, p.visible, sentAbs + 60_000).then((at) => {
                  if (at === null) missed += 1;
                  else {
                    visibleMs.push({ sentAt: sentAtMs, ms: at - sentAbs });
                    lastVisible = Math.max(lastVisible, at);
                  }
                }),
              );
            },
          },
        );
        const sendEnd = performance.now();
        if (process.env.PIPELINE_DEBUG) {
          const metrics = await (await fetch(`${app.url}/metrics`)).text();
          log(
            metrics
              .split('\n')
              .filter((l) => /^billing_ledger_nodejs_eventloop_lag_(p50|p90|p99|max)_seconds/.test(l))
              .join('; '),
          );
        }
        const stages = await backlog.stop();
        log(
          `rate ${rate}/s: largest backlog while sending: inbox ${stages.inbox} entries, relay ${stages.relay} events, ` +
            `entitlements consumer ${stages.entitlements} messages, audit consumer ${stages.audit} messages`,
        );
        await Promise.all(probes);
        const drainMs = Math.max(0, lastVisible - sendEnd);
        await waitSettled(environment, app.url, ids, 300_000);
        const settledMs = performance.now() - sendEnd;
        const docs = await fetchEntitlements(app.url, ids);
        const right = ids.filter(
          (id) => docs.get(id)?.status === 'past_due' && docs.get(id)?.tier === 'premium',
        ).length;
        const ms = visibleMs.map((v) => v.ms);
        const third = result.elapsedMs / 3;
        const early = visibleMs.filter((v) => v.sentAt < third).map((v) => v.ms);
        const late = visibleMs.filter((v) => v.sentAt >= 2 * third).map((v) => v.ms);
        // Lag grew when changes sent late in the run took clearly longer to show than early ones.
        const lagGrew = percentile(late, 50) > 2 * percentile(early, 50) + 250;
        const achieved = result.acknowledged / (result.elapsedMs / 1000);
        if (!lagGrew && right === ids.length && result.failed === 0) sustained = Math.max(sustained, rate);
        const line =
          `rate ${rate}/s: acknowledged ${result.acknowledged}/${result.offered} (${achieved.toFixed(0)}/s), ` +
          `ack p50 ${percentile(result.ackMs, 50).toFixed(1)} ms p99 ${percentile(result.ackMs, 99).toFixed(1)} ms; ` +
          `received->visible p50 ${percentile(ms, 50).toFixed(0)} ms p99 ${percentile(ms, 99).toFixed(0)} ms ` +
          `(${ms.length} probes, ${missed} missed; first third p50 ${percentile(early, 50).toFixed(0)} ms, last third ${percentile(late, 50).toFixed(0)} ms); ` +
          `last probe visible ${drainMs.toFixed(0)} ms after the last send, all ${ids.length} customers verified after ${settledMs.toFixed(0)} ms; lag ${lagGrew ? 'GREW' : 'steady'}; ${right}/${ids.length} customers right`;
        log(line);
        const detail = `${seconds} s at ${rate}/s offered`;
        figures.push(
          {
            metric: `${rate}/s acknowledged`,
            value: result.acknowledged,
            unit: 'webhooks',
            detail: `of ${result.offered}; ${result.failed} failed ${JSON.stringify(result.failures)}`,
          },
          { metric: `${rate}/s ack p50`, value: percentile(result.ackMs, 50), unit: 'ms', detail },
          { metric: `${rate}/s ack p99`, value: percentile(result.ackMs, 99), unit: 'ms', detail },
          {
            metric: `${rate}/s received->visible p50`,
            value: percentile(ms, 50),
            unit: 'ms',
            detail: `${ms.length} probes`,
          },
          {
            metric: `${rate}/s received->visible p99`,
            value: percentile(ms, 99),
            unit: 'ms',
            detail: `${ms.length} probes`,
          },
          {
            metric: `${rate}/s drain after last send`,
            value: drainMs,
            unit: 'ms',
            detail: lagGrew ? 'lag grew' : 'lag steady',
          },
        );
      }
    } finally {
      sender.close();
      await app.stop();
      await workers?.stop();
    }
    log('raw ceilings (same machine, same run)');
    const inbox = await bareInboxInserts(environment.pool, 20_000, 32);
    const kafka = await bareKafka(environment.env.KAFKA_BROKERS!.split(','), 100_000);
    const redis = await bareRedis(environment.redisUrl, 200_000);
    await environment.drop();
    const slowest = Math.min(inbox, kafka, redis);
    figures.push(
      {
        metric: 'ceiling: bare inbox INSERT',
        value: inbox,
        unit: 'rows/s',
        detail: '20,000 rows, 32 connections',
      },
      {
        metric: 'ceiling: bare Kafka produce+consume',
        value: kafka,
        unit: 'msgs/s',
        detail: '100,000 x 1.2 KB, batches of 500, 6 partitions',
      },
      {
        metric: 'ceiling: bare pipelined Redis SET',
        value: redis,
        unit: 'writes/s',
        detail: '200,000 x 1.5 KB, pipelines of 500',
      },
      {
        metric: 'highest sustained rate',
        value: sustained,
        unit: 'webhooks/s',
        detail: 'acknowledged all, lag steady, every customer right',
      },
      {
        metric: 'sustained / slowest ceiling',
        value: sustained / slowest,
        unit: 'ratio',
        detail: `slowest ceiling ${slowest.toFixed(0)}/s`,
      },
    );
    return figures;
  },
};

export default scenario;
