/**
 * Two app instances against the same services while webhooks flow (half posted to each):
 * one relay leads at a time, so each event is published once per leadership; both instances
 * serve reads; the read models end identical to a single instance fed the same deliveries.
 */
import { Kafka, logLevel } from 'kafkajs';
import {
  createProcessEnvironment,
  fetchEntitlements,
  readModelSnapshot,
  startAppProcess,
  waitSettled,
  type ProcessEnvironment,
} from '../support/app-process';
import { historyTraffic, WebhookSender } from '../support/webhook-traffic';

jest.setTimeout(600_000);

const CUSTOMERS = Number(process.env.TWO_INSTANCES_CUSTOMERS ?? 30);
const traffic = historyTraffic({ customers: CUSTOMERS, seed: 424242, tag: 'TI', duplicateShare: 0.1 });

async function publishedCount(environment: ProcessEnvironment): Promise<number> {
  const admin = new Kafka({
    brokers: environment.env.KAFKA_BROKERS!.split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(environment.topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

describe('two app instances on the same services', () => {
  let single: Awaited<ReturnType<typeof readModelSnapshot>>;

  beforeAll(async () => {
    const environment = await createProcessEnvironment({ redisDb: 14 });
    const app = await startAppProcess(environment);
    const sender = new WebhookSender(app.url, environment.env.STRIPE_WEBHOOK_SECRET!.split(',')[0]!);
    try {
      await sender.deliverAll(traffic.deliveries, { concurrency: 8 });
      await waitSettled(environment, app.url, traffic.customerIds);
      single = await readModelSnapshot(environment, app.url, traffic.customerIds);
    } finally {
      sender.close();
      await app.stop();
      await environment.drop();
    }
  });

  it('publishes each event once, serves reads from both, and ends with the read models of a single instance', async () => {
    const environment = await createProcessEnvironment({ redisDb: 15 });
    const a = await startAppProcess(environment);
    const b = await startAppProcess(environment);
    const secret = environment.env.STRIPE_WEBHOOK_SECRET!.split(',')[0]!;
    const toA = new WebhookSender(a.url, secret);
    const toB = new WebhookSender(b.url, secret);
    try {
      await Promise.all([
        toA.deliverAll(
          traffic.deliveries.filter((_, i) => i % 2 === 0),
          { concurrency: 4 },
        ),
        toB.deliverAll(
          traffic.deliveries.filter((_, i) => i % 2 === 1),
          { concurrency: 4 },
        ),
      ]);
      await waitSettled(environment, a.url, traffic.customerIds);
      const fromA = await readModelSnapshot(environment, a.url, traffic.customerIds);
      const fromB = await fetchEntitlements(b.url, traffic.customerIds);
      const published = await publishedCount(environment);
      process.stdout.write(
        `two instances: ${fromA.events} events in the log, ${published} messages published; ` +
          `${Object.keys(fromA.entitlements).length} customers answered by A, ${fromB.size} by B; ` +
          `single instance: ${Object.keys(single.entitlements).length} customers, ${single.events} events\n`,
      );
      expect(published).toBe(fromA.events);
      expect(fromB.size).toBe(Object.keys(fromA.entitlements).length);
      for (const [id, doc] of fromB) {
        const { position: _position, ...rest } = doc;
        expect(rest).toEqual(fromA.entitlements[id]);
      }
      expect(fromA.entitlements).toEqual(single.entitlements);
      expect(fromA.auditStripeIds).toEqual(single.auditStripeIds);
      expect([fromA.auditMissing, fromA.auditExtra, fromA.auditDoubled]).toEqual([0, 0, 0]);
    } finally {
      toA.close();
      toB.close();
      await Promise.all([a.stop(), b.stop()]);
      await environment.drop();
    }
  });
});
