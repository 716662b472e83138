/**
 * Stripe-shaped webhook traffic for fault tests and benchmarks: generated customer histories
 * (the lifecycle simulator's), delivered shuffled and duplicated as Stripe may, signed, at a
 * fixed offered rate (open loop: the sender does not slow down when the server does).
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import Stripe from 'stripe';
import { ACTIONS, simulate, type LifecycleSpec, type Step } from '../property/lifecycle-simulator';
import type { StripeEvent } from './stripe-fixtures';

/** A small seeded PRNG (mulberry32): the same seed gives the same traffic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

export function randomLifecycle(random: () => number, maxSteps = 10): LifecycleSpec {
  const subscriptions = Array.from({ length: random() < 0.8 ? 1 : 2 }, () => ({
    start: pick(random, ['trialing', 'active', 'active', 'incomplete'] as const),
    price: Math.floor(random() * 8),
    quantity: 1 + Math.floor(random() * 4),
  }));
  const steps: Step[] = Array.from({ length: 2 + Math.floor(random() * (maxSteps - 1)) }, () => ({
    subscription: random() < 0.7 ? 0 : 1,
    action: pick(
      random,
      ACTIONS.filter((a) => a !== 'delete_customer'),
    ),
    dt: pick(random, [0, 1, 3600, 86_400, 30 * 86_400]),
  }));
  return { apiShape: random() < 0.5 ? 'legacy' : 'basil', subscriptions, steps };
}

export interface HistoryTraffic {
  customerIds: string[];
  /** Every Stripe event once, in the order Stripe created them per customer. */
  events: StripeEvent[];
  /** What is delivered: the events shuffled, some of them twice. */
  deliveries: StripeEvent[];
}

/** `customers` generated histories; each customer's objects are tagged `<tag><n>`. */
export function historyTraffic(options: {
  customers: number;
  seed: number;
  tag: string;
  duplicateShare?: number;
  shuffle?: boolean;
}): HistoryTraffic {
  const random = prng(options.seed);
  const customerIds: string[] = [];
  const events: StripeEvent[] = [];
  for (let i = 0; i < options.customers; i++) {
    const tag = `${options.tag}${i}x`;
    const history = simulate(randomLifecycle(random), 1_767_225_600 + Math.floor(random() * 86_400), tag);
    customerIds.push(`cus_${tag}1`);
    events.push(...history);
  }
  const deliveries = [...events];
  for (const event of events) if (random() < (options.duplicateShare ?? 0.1)) deliveries.push(event);
  if (options.shuffle ?? true) shuffleInPlace(deliveries, random);
  return { customerIds, events, deliveries };
}

export function shuffleInPlace<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export interface Delivery {
  status: number;
  /** Milliseconds from send to the full answer; -1 when the request failed. */
  ms: number;
}

/** Posts signed webhooks over keep-alive connections. */
export class WebhookSender {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private readonly target: URL;

  constructor(
    url: string,
    private readonly secret: string,
  ) {
    this.target = new URL('/webhooks/stripe', url);
  }

  retarget(url: string): void {
    const next = new URL('/webhooks/stripe', url);
    this.target.host = next.host;
  }

  send(event: unknown): Promise<Delivery> {
    const body = JSON.stringify(event);
    const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: this.secret });
    const started = performance.now();
    return new Promise((resolve) => {
      const req = request(
        this.target,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'stripe-signature': signature,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
          res.on('error', () => resolve({ status: 0, ms: -1 }));
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve({ status: 0, ms: -1 }));
      req.end(body);
    });
  }

  /**
   * Delivers until every event got a 2xx, retrying failures (as Stripe does) after `retryMs`.
   * Returns how many attempts failed on the way.
   */
  async deliverAll(
    events: readonly unknown[],
    options: { concurrency?: number; retryMs?: number; onSent?: (done: number) => void } = {},
  ): Promise<{ failedAttempts: number }> {
    let next = 0;
    let done = 0;
    let failedAttempts = 0;
    const worker = async () => {
      while (next < events.length) {
        const event = events[next++];
        for (;;) {
          const result = await this.send(event);
          if (result.status >= 200 && result.status < 300) break;
          failedAttempts += 1;
          await new Promise((r) => setTimeout(r, options.retryMs ?? 200));
        }
        options.onSent?.(++done);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
    return { failedAttempts };
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface OfferedLoadResult {
  offered: number;
  acknowledged: number;
  failed: number;
  /** Failed deliveries by HTTP status (0: the connection failed). */
  failures: Record<string, number>;
  /** Ack latency of every acknowledged delivery, ms. */
  ackMs: number[];
  /** When each delivery was sent (ms since the start of the run), by index. */
  sentAt: number[];
  elapsedMs: number;
}

/**
 * Sends `events` at `ratePerSecond` (open loop), at most `maxInFlight` at once. `onAck` sees
 * each acknowledged delivery with its index and the time it was sent.
 */
export async function offerLoad(
  sender: WebhookSender,
  events: readonly unknown[],
  ratePerSecond: number,
  options: { maxInFlight?: number; onAck?: (index: number, sentAtMs: number) => void } = {},
): Promise<OfferedLoadResult> {
  const maxInFlight = options.maxInFlight ?? 1024;
  const start = performance.now();
  const ackMs: number[] = [];
  const sentAt: number[] = new Array(events.length);
  let failed = 0;
  const failures: Record<string, number> = {};
  let inFlight = 0;
  const pending: Promise<void>[] = [];
  let index = 0;
  while (index < events.length) {
    const due = Math.min(events.length, Math.floor(((performance.now() - start) * ratePerSecond) / 1000) + 1);
    while (index < due && inFlight < maxInFlight) {
      const i = index++;
      inFlight += 1;
      sentAt[i] = performance.now() - start;
      pending.push(
        sender.send(events[i]).then((result) => {
          inFlight -= 1;
          if (result.status >= 200 && result.status < 300) {
            ackMs.push(result.ms);
            options.onAck?.(i, sentAt[i]!);
          } else {
            failed += 1;
            failures[result.status] = (failures[result.status] ?? 0) + 1;
          }
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(pending);
  return {
    offered: events.length,
    acknowledged: ackMs.length,
    failed,
    failures,
    ackMs,
    sentAt,
    elapsedMs: performance.now() - start,
  };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
