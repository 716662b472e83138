/**
 * Faults while webhooks flow, against the real services and `billing-ledger start` in its own
 * process: kill -9 of the app, a Kafka restart, a Redis restart, an emptied Redis, a PostgreSQL
 * restart. The same shuffled, duplicated Stripe history is first delivered to an uninterrupted
 * system; after each segment both are settled and compared: every customer's entitlements, the
 * Stripe events traced in the audit log, and the audit log against the event log (nothing
 * missing, nothing doubled).
 *
 * PIPELINE_FAULT_CUSTOMERS (default 30) sets the size; PIPELINE_FAULTS=kill,kafka picks faults.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import {
  createProcessEnvironment,
  freePort,
  readModelSnapshot,
  startAppProcess,
  waitSettled,
  type AppProcess,
  type ProcessEnvironment,
} from '../support/app-process';
import { historyTraffic, WebhookSender } from '../support/webhook-traffic';
import type { StripeEvent } from '../support/stripe-fixtures';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
const stack = (action: string, service: string) =>
  run('bash', [path.join(ROOT, 'infra/local/stack.sh'), action, service], { cwd: ROOT, timeout: 120_000 });

const CUSTOMERS = Number(process.env.PIPELINE_FAULT_CUSTOMERS ?? 30);
const ALL_FAULTS = [
  'kill -9 app',
  'restart kafka',
  'restart redis',
  'empty redis',
  'restart postgres',
] as const;
type Fault = (typeof ALL_FAULTS)[number];
/** PIPELINE_FAULTS=kill,redis picks some (by substring); all by default. */
const FAULTS: Fault[] = ALL_FAULTS.filter((fault) =>
  (process.env.PIPELINE_FAULTS ?? '').split(',').some((wanted) => fault.includes(wanted.trim())),
);

jest.setTimeout(900_000);

const traffic = historyTraffic({ customers: CUSTOMERS, seed: 20261123, tag: 'PF', duplicateShare: 0.15 });
/** One segment per fault, plus a last one delivered after everything. */
const segments: StripeEvent[][] = Array.from({ length: FAULTS.length + 1 }, (_, k) =>
  traffic.deliveries.filter((_, i) => i % (FAULTS.length + 1) === k),
);

type Snapshot = Awaited<ReturnType<typeof readModelSnapshot>>;

interface Run {
  environment: ProcessEnvironment;
  app: AppProcess;
  port: number;
  sender: WebhookSender;
}

async function startRun(redisDb: number): Promise<Run> {
  const environment = await createProcessEnvironment({ redisDb });
  const port = await freePort();
  const app = await startAppProcess(environment, { port });
  const sender = new WebhookSender(app.url, environment.env.STRIPE_WEBHOOK_SECRET!.split(',')[0]!);
  return { environment, app, port, sender };
}

async function settledSnapshot(r: Run): Promise<Snapshot> {
  await waitSettled(r.environment, r.app.url, traffic.customerIds, 180_000);
  return readModelSnapshot(r.environment, r.app.url, traffic.customerIds);
}

/**
 * Delivers a segment. With a fault: a third first, then the fault starts, and the rest keeps
 * flowing one delivery every 100 ms for as long as the fault lasts (refused deliveries are
 * retried, as Stripe does), then the remainder at full speed.
 */
async function deliver(r: Run, events: StripeEvent[], fault?: () => Promise<void>): Promise<number> {
  if (!fault) return (await r.sender.deliverAll(events, { concurrency: 8, retryMs: 250 })).failedAttempts;
  const third = Math.floor(events.length / 3);
  let failed = (await r.sender.deliverAll(events.slice(0, third), { concurrency: 8 })).failedAttempts;
  let faultOver = false;
  const injected = fault().finally(() => (faultOver = true));
  let next = third;
  while (next < events.length && !faultOver) {
    failed += (await r.sender.deliverAll([events[next++]!], { retryMs: 250 })).failedAttempts;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await injected;
  failed += (await r.sender.deliverAll(events.slice(next), { concurrency: 8, retryMs: 250 })).failedAttempts;
  return failed;
}

describe('pipeline under faults (real services, app in its own process)', () => {
  const reference: Snapshot[] = [];

  beforeAll(async () => {
    const r = await startRun(10);
    try {
      for (const segment of segments) {
        await deliver(r, segment);
        reference.push(await settledSnapshot(r));
      }
    } finally {
      r.sender.close();
      await r.app.stop();
      await r.environment.drop();
    }
    const last = reference[reference.length - 1]!;
    process.stdout.write(
      `reference run: ${traffic.deliveries.length} deliveries (${traffic.events.length} distinct) for ${CUSTOMERS} customers; ` +
        `${Object.keys(last.entitlements).length} customers with entitlements, ${last.events} events, ${last.auditRows} audit rows\n`,
    );
  });

  it('after kill -9 of the app, Kafka, Redis and PostgreSQL restarts and an emptied Redis, every read model equals the uninterrupted run', async () => {
    const r = await startRun(11);
    const report: string[] = [];
    const faults: Record<Fault, () => Promise<void>> = {
      'kill -9 app': async () => {
        await r.app.kill();
        r.app = await startAppProcess(r.environment, { port: r.port });
      },
      'restart kafka': async () => void (await stack('restart', 'kafka')),
      'restart redis': async () => void (await stack('restart', 'redis')),
      'empty redis': async () => {
        const redis = new Redis(r.environment.redisUrl);
        await redis.flushdb();
        redis.disconnect();
      },
      'restart postgres': async () => void (await stack('restart', 'postgres')),
    };
    try {
      for (const [k, segment] of segments.entries()) {
        const fault = FAULTS[k];
        const failed = await deliver(r, segment, fault ? faults[fault] : undefined);
        expect(r.app.exited()).toBe(false);
        const snapshot = await settledSnapshot(r);
        const expected = reference[k]!;
        const differing = Object.keys({ ...expected.entitlements, ...snapshot.entitlements }).filter(
          (id) => JSON.stringify(expected.entitlements[id]) !== JSON.stringify(snapshot.entitlements[id]),
        );
        report.push(
          `${fault ?? 'no fault'}: ${segment.length} deliveries (${failed} attempts refused while down); ` +
            `entitlements ${Object.keys(snapshot.entitlements).length} customers, ${differing.length} differ from the uninterrupted run; ` +
            `audit ${snapshot.auditRows} rows for ${snapshot.events} events (missing ${snapshot.auditMissing}, extra ${snapshot.auditExtra}, doubled ${snapshot.auditDoubled}); ` +
            `Stripe events traced ${snapshot.auditStripeIds.length} vs ${expected.auditStripeIds.length}`,
        );
        expect({ fault, differing }).toEqual({ fault, differing: [] });
        expect(snapshot.entitlements).toEqual(expected.entitlements);
        expect(snapshot.auditStripeIds).toEqual(expected.auditStripeIds);
        expect([snapshot.auditMissing, snapshot.auditExtra, snapshot.auditDoubled]).toEqual([0, 0, 0]);
      }
      // Every acknowledged webhook is in the inbox: nothing acknowledged was lost.
      const { rows } = await r.environment.pool.query<{ n: number }>(
        'SELECT count(DISTINCT stripe_event_id)::int AS n FROM stripe_inbox',
      );
      expect(rows[0]!.n).toBe(new Set(traffic.deliveries.map((e) => e.id)).size);
      report.push(`inbox: ${rows[0]!.n} distinct Stripe events stored of ${traffic.events.length} sent`);
    } finally {
      process.stdout.write(`${report.join('\n')}\n`);
      r.sender.close();
      await r.app.stop();
      await r.environment.drop();
    }
  });
});
